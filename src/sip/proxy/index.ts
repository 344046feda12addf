/**
 * sip/proxy — the stateful proxy (RFC 3261 16): routing core (core.ts),
 * forwarder (forwarder.ts), stateless paths (stateless.ts), next-hop choice
 * (next-hop.ts), our own URIs and route tokens (own-uris.ts,
 * flow-token.ts), RFC 3263 targets (targets.ts); assembled in proxy.ts.
 */
export { SipProxy } from "./proxy.js";
export { Originator, type UacCallbacks, type UacTarget } from "./originator.js";
export { RECORD_ROUTE_TOKEN_TTL_S, SUPPORTED_PROXY_OPTIONS, DEFAULT_TIMER_C_MS, type ProxyOptions, type ClusterHooks, type ProxyCounters } from "./options.js";
export { flowRef, udpRef, parseFlowRef, encodeFlowToken, decodeFlowToken, type FlowRef, type ParsedFlowRef } from "./flow-token.js";
export { resolveUri, resolveTargets, orderSrv, systemResolver, nextHopUri, uriTransport, type Destination, type SipResolver, type NaptrAnswer, type SrvAnswer, type ResolveOptions } from "./targets.js";
