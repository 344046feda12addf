/** sip/proxy — the stateful proxy core with registrar, authentication and anti-abuse in front. */
export { SipProxy, type ProxyOptions, type ClusterHooks } from "./proxy.js";
export { flowRef, udpRef, parseFlowRef, encodeFlowToken, decodeFlowToken, type FlowRef, type ParsedFlowRef } from "./flow-token.js";
export { Guard, type GuardOptions } from "./guard.js";
export { resolveUri, nextHopUri, uriTransport, type Destination } from "./targets.js";
