/**
 * The proxy's request pipeline: the one place features (media relaying
 * today; accounting, call features later) plug into the proxy core without
 * editing it (DESIGN "Features plug into the SIP core's request pipeline").
 *
 * Shaped after undici's dispatch handlers (STYLE 6): a plugin sees a
 * request just before the proxy forwards it and answers with a handler for
 * that request's responses, or a rejection. Responses reach the handler in
 * the order they arrived, before they are relayed upstream, and the handler
 * may rewrite them (their body); the proxy waits for it. When the request's
 * final response has gone upstream, `onComplete` tells its status. A later
 * `forward(request, handler)` contract grows out of this one: plugins then
 * become wrappers of the handler instead of hooks.
 */
import type { SipRequest, SipResponse } from "../message/index.js";
import type { TransportName } from "../transport/index.js";

export interface ForwardContext {
  readonly request: SipRequest;
  /** Where the request came from: a client's flow, or another member (the internal listener). */
  readonly source: { readonly address: string; readonly port: number; readonly transport: TransportName; readonly fromMember: boolean };
  /** Where it goes: each target's URI and, for a registered client, the address its registration came from. */
  readonly targets: ReadonlyArray<{ readonly uri: string; readonly registeredFrom?: string }>;
}

/** What a plugin wants to see of one forwarded request's responses. */
export interface ResponseHandler {
  /** Each response but 100 Trying, before it is relayed upstream; may rewrite it. */
  onResponse?(res: SipResponse): void | Promise<void>;
  /** The final response (status) went upstream: the request is done with. */
  onComplete?(status: number): void;
}

/** A plugin's verdict on a request: nothing to do, a handler of its responses, or a rejection sent instead of forwarding. */
export type RequestVerdict = ResponseHandler | { reject: { status: number; reason: string } } | undefined | void;

export interface ProxyPlugin {
  /**
   * A request about to be forwarded (authenticated, routed, targets known).
   * It may rewrite the request's body. A plugin that throws does not stop
   * the request: the proxy logs it and forwards.
   */
  onRequest(ctx: ForwardContext): RequestVerdict | Promise<RequestVerdict>;
  /** An ACK for a 2xx about to be forwarded statelessly (RFC 3261 16.11); may rewrite its body (the answer to an offer made in the 2xx). */
  onAck?(ctx: ForwardContext): void | Promise<void>;
}

export function isRejection(v: RequestVerdict): v is { reject: { status: number; reason: string } } {
  return v !== undefined && v !== null && "reject" in v;
}
