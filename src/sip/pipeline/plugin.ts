/**
 * The simple way to hook the forward phase: a plugin sees each request
 * just before it is forwarded and answers with hooks for that request's
 * responses, or a rejection; it may rewrite the request's body, and each
 * response's body, asynchronously. {@link pluginInterceptor} turns it into
 * an {@link Interceptor} that keeps the responses of one request in order
 * while the plugin works on them (media relaying uses this).
 *
 * A plugin that throws does not stop the request: the failure is logged
 * and the request goes on unchanged.
 */
import { describeError, type Logger } from "../../base/index.js";
import type { SipResponse } from "../message/index.js";
import { DecoratorHandler, type Forward, type ForwardHandler, type Interceptor, type ProxyRequest, type ProxyTarget, type RequestSource } from "./contract.js";

/** What a plugin sees of a request. */
export interface ForwardContext {
  readonly request: ProxyRequest["request"];
  readonly source: RequestSource;
  readonly targets: readonly ProxyTarget[];
}

/** What a plugin wants to see of one forwarded request's responses. */
export interface ResponseHandler {
  /** Each response but 100 Trying, before it goes upstream; may rewrite it. */
  onResponse?(res: SipResponse): void | Promise<void>;
  /** The final response (status) went upstream: the request is done with. */
  onComplete?(status: number): void;
}

/** A plugin's verdict on a request: nothing to do, hooks for its responses, or a rejection sent instead of forwarding. */
export type RequestVerdict = ResponseHandler | { reject: { status: number; reason: string } } | undefined | void;

export interface ProxyPlugin {
  /** A request about to be forwarded (authenticated, routed, targets known); may rewrite its body. */
  onRequest(ctx: ForwardContext): RequestVerdict | Promise<RequestVerdict>;
  /** An ACK for a 2xx about to be forwarded statelessly (RFC 3261 16.11); may rewrite its body (the answer to an offer made in the 2xx). */
  onAck?(ctx: ForwardContext): void | Promise<void>;
  /** Methods the plugin wants to see (others pass untouched, at no cost). @default every method */
  readonly methods?: ReadonlySet<string>;
}

export function isRejection(v: RequestVerdict): v is { reject: { status: number; reason: string } } {
  return v !== undefined && v !== null && "reject" in v;
}

/** A plugin as a forward-phase interceptor. */
export function pluginInterceptor(name: string, plugin: ProxyPlugin, log: Logger): Interceptor {
  return {
    name,
    forward(next: Forward): Forward {
      return (req, handler) => {
        const method = req.request.method;
        if (method === "ACK") {
          if (!plugin.onAck) return next(req, handler);
          Promise.resolve()
            .then(() => plugin.onAck!(req))
            .catch((err: unknown) => log.error({ err: describeError(err), plugin: name }, "proxy plugin failed on an ACK"))
            .then(() => next(req, handler));
          return;
        }
        if (plugin.methods && !plugin.methods.has(method)) return next(req, handler);
        Promise.resolve()
          .then(() => plugin.onRequest(req))
          .then(
            (verdict) => {
              if (isRejection(verdict)) return req.reply(handler, verdict.reject.status, verdict.reject.reason);
              next(req, verdict ? new HookedHandler(handler, verdict, log, name) : handler);
            },
            (err: unknown) => {
              log.error({ err: describeError(err), method, plugin: name }, "proxy plugin failed");
              next(req, handler);
            },
          );
      };
    },
  };
}

/** Runs a plugin's response hooks before passing each response on, one response at a time, in arrival order. */
class HookedHandler extends DecoratorHandler {
  private queue: Promise<void> = Promise.resolve();

  constructor(
    inner: ForwardHandler,
    private readonly hooks: ResponseHandler,
    private readonly log: Logger,
    private readonly name: string,
  ) {
    super(inner);
  }

  override onResponse(res: SipResponse): void {
    const hook = this.hooks.onResponse;
    this.queue = this.queue
      .then(() => (hook && res.status > 100 ? hook.call(this.hooks, res) : undefined))
      .catch((err: unknown) => this.log.error({ err: describeError(err), plugin: this.name }, "proxy plugin failed on a response"))
      .then(() => this.inner.onResponse(res));
  }

  override onComplete(status: number): void {
    this.queue = this.queue.then(() => {
      try {
        this.hooks.onComplete?.(status);
      } catch (err) {
        this.log.error({ err: describeError(err), plugin: this.name }, "proxy plugin failed on completion");
      }
      this.inner.onComplete?.(status);
    });
  }
}
