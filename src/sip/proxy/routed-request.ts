/**
 * A request as the proxy core carries it through the pipeline: the public
 * {@link ProxyRequest} plus what only the core and its forwarder use (the
 * server transaction, the targets with their bindings, the flow
 * references of our route tokens).
 */
import type { SipUri } from "../message/index.js";
import { ProxyRequest, type ProxyTarget } from "../pipeline/index.js";
import type { Binding } from "../registrar/index.js";
import type { ServerTransaction } from "../transaction/index.js";
import type { FlowRef } from "./flow-token.js";

export interface RoutedTarget {
  uri: string;
  binding: Binding | undefined;
  /** Flow references of our tokens (in-dialog requests): the flows the request may leave on. */
  hints?: readonly FlowRef[];
}

/** Shared empty lists: most requests carry no token and reach one target set later. */
const NO_REFS: readonly FlowRef[] = Object.freeze([]);
const NO_TARGETS: readonly RoutedTarget[] = Object.freeze([]);

export class RoutedRequest extends ProxyRequest {
  /** The server transaction (none for a stateless ACK). */
  tx: ServerTransaction | undefined;
  /** The Request-URI after route processing (16.4), parsed. */
  ruri: SipUri | undefined;
  /** The flow references our Route tokens carried (16.4). */
  hints: readonly FlowRef[] = NO_REFS;
  /** Set by target determination (16.5). */
  routed: readonly RoutedTarget[] = NO_TARGETS;
  /** For an in-dialog request from outside: the only flows its next hop may be (see NextHop.withinDialog). */
  confine: readonly FlowRef[] | undefined;
  private publicTargets: readonly ProxyTarget[] | undefined;

  /** The targets as interceptors see them (built on first read). */
  override get targets(): readonly ProxyTarget[] {
    return (this.publicTargets ??= this.routed.map((t) => ({ uri: t.uri, ...(t.binding ? { registeredFrom: t.binding.source.address } : {}) })));
  }
}
