/**
 * The request pipeline of the proxy: one contract, `forward(request,
 * handler)`, at every level that handles a request, and behaviour added by
 * wrapping it (STYLE 6, after undici's `dispatch(opts, handler)` and its
 * interceptors).
 *
 * A request goes through two phases, each a chain of interceptors around
 * a terminal step of the core:
 *
 * - `request`: validated (RFC 3261 16.3) and route-processed (16.4), before
 *   anything is looked up. The guard and digest authentication live here;
 *   the terminal answers requests addressed to this node (registrar UAS,
 *   OPTIONS) or determines the targets (16.5).
 * - `forward`: targets known, about to leave (16.6); also every ACK for a
 *   2xx forwarded statelessly (16.11). Media relaying (SDP rewriting) and
 *   accounting live here; the terminal is the forwarder.
 *
 * An interceptor calls `next(request, handler)` to pass the request on (at
 * once or later, after asynchronous work), possibly with a handler of its
 * own that wraps the one it got ({@link DecoratorHandler}); or it answers
 * the request itself with {@link ProxyRequest.reply} and does not call
 * `next`. Every response that goes upstream passes through the handler
 * chain: the innermost handler is the server transaction. A phase no
 * interceptor hooks costs nothing: the core calls its terminal directly.
 */
import type { SipRequest, SipResponse } from "../message/index.js";
import { createResponse } from "../message/index.js";
import type { Flow, TransportName } from "../transport/index.js";

/** Where a request came from: a client's flow, or another member (the internal listener). */
export interface RequestSource {
  readonly address: string;
  readonly port: number;
  readonly transport: TransportName;
  readonly fromMember: boolean;
}

/** Where a request goes (forward phase): each target's URI and, for a registered client, the address its registration came from. */
export interface ProxyTarget {
  readonly uri: string;
  readonly registeredFrom?: string;
}

/** The responses of one request, as they go upstream. */
export interface ForwardHandler {
  /** A response on its way upstream (provisional or final; 100 Trying excepted). A decorator may rewrite it before passing it on. */
  onResponse(res: SipResponse): void;
  /** The request is done with: its final response (status) went upstream, or the transaction ended without one (status of the last response sent, 0 if none). Called at most once. */
  onComplete?(status: number): void;
}

/** The contract of every level that handles a request. */
export type Forward = (request: ProxyRequest, handler: ForwardHandler) => void;

/**
 * A feature plugged into the proxy: a wrapper of one phase or both. Each
 * wrapper is called once, when the proxy is built, with the next step of
 * its phase, and returns its own step.
 */
export interface Interceptor {
  readonly name: string;
  /** Wraps the request phase: validated and route-processed, not yet authenticated or routed to targets. */
  request?(next: Forward): Forward;
  /** Wraps the forward phase: targets known (and every stateless ACK for a 2xx). */
  forward?(next: Forward): Forward;
}

/** What the core shares with every request it builds: how its own answers look, and their count. */
export interface Responder {
  /** Value of the Server header of our answers, if any. */
  readonly userAgent: string | undefined;
  /** Counts answers of status 400 and above. */
  readonly counters: { rejected: number };
}

const NO_TARGETS: readonly ProxyTarget[] = Object.freeze([]);
const NO_HEADERS: ReadonlyArray<[string, string]> = Object.freeze([]);

/**
 * One request as it travels the pipeline. Interceptors read it, may rewrite
 * the SIP request (headers, body) and set `identity`; they pass the same
 * object on.
 */
export class ProxyRequest {
  /** Set by authentication: the AOR (user@domain) whose credentials the request carried. */
  identity: string | undefined;

  constructor(
    readonly request: SipRequest,
    /** The flow the request arrived on. */
    readonly flow: Flow,
    /** The Request-URI as received (before strict-route processing): what a digest `uri` is compared with. */
    readonly requestUri: string,
    /** What route processing (16.4) found out. */
    readonly routing: RoutingFacts,
    private readonly responder: Responder,
  ) {}

  /** Forward phase: where the request goes (empty before target determination, and for a stateless ACK). */
  get targets(): readonly ProxyTarget[] {
    return NO_TARGETS;
  }

  /** From another member (mutually authenticated internal listener): authenticated and relay-checked there. */
  get trusted(): boolean {
    return this.flow.peer !== undefined;
  }

  get source(): RequestSource {
    const f = this.flow;
    return { address: f.remote.address, port: f.remote.port, transport: f.transport, fromMember: f.peer !== undefined };
  }

  /** Answer the request here (it is not passed on): the response goes upstream through `handler`. */
  reply(handler: ForwardHandler, status: number, reason?: string, extra: ReadonlyArray<[string, string]> = NO_HEADERS): void {
    if (status >= 400) this.responder.counters.rejected++;
    const ua = this.responder.userAgent;
    handler.onResponse(createResponse(this.request, status, reason, ua ? [["Server", ua], ...extra] : (extra as Array<[string, string]>)));
    if (status >= 200) handler.onComplete?.(status);
  }
}

/** What RFC 3261 16.4 route processing found out about a request. */
export interface RoutingFacts {
  /** It brought back a Record-Route entry we signed for its dialog (a To tag alone proves nothing). */
  readonly inDialog: boolean;
  /** Route entries remain after ours were removed: the route set decides the next hop. */
  readonly hasRoute: boolean;
  /** Addressed to this node itself (no Route, a URI of ours without a user, or a REGISTER): answered here. */
  readonly local: boolean;
  /** The Request-URI's host is one of the domains we serve. */
  readonly toLocalDomain: boolean;
}

/** Wrap `terminal` in the given phase of every interceptor (the first interceptor is outermost). */
export function compose(interceptors: readonly Interceptor[], phase: "request" | "forward", terminal: Forward): Forward {
  let step = terminal;
  for (let i = interceptors.length - 1; i >= 0; i--) {
    const wrap = interceptors[i]![phase];
    if (wrap) step = wrap.call(interceptors[i], step);
  }
  return step;
}

/** A handler that passes everything to the one it wraps; decorators override what they need (undici's DecoratorHandler). */
export class DecoratorHandler implements ForwardHandler {
  constructor(protected readonly inner: ForwardHandler) {}
  onResponse(res: SipResponse): void {
    this.inner.onResponse(res);
  }
  onComplete(status: number): void {
    this.inner.onComplete?.(status);
  }
}

/** A handler for requests that get no response (a stateless ACK). */
export const NO_RESPONSE: ForwardHandler = Object.freeze({ onResponse: () => undefined });
