/** sip/proxy — the stateful proxy core with registrar, authentication and anti-abuse in front. */
export { SipProxy, type ProxyOptions, type ClusterHooks } from "./proxy.js";
export { flowRef, udpRef, parseFlowRef, encodeFlowToken, decodeFlowToken, type FlowRef, type ParsedFlowRef } from "./flow-token.js";
export { Guard, type GuardOptions } from "./guard.js";
export { resolveUri, resolveTargets, orderSrv, systemResolver, nextHopUri, uriTransport, type Destination, type SipResolver, type NaptrAnswer, type SrvAnswer, type ResolveOptions } from "./targets.js";
export { isRejection, type ProxyPlugin, type ForwardContext, type ResponseHandler, type RequestVerdict } from "./pipeline.js";
