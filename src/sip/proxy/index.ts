/** sip/proxy — the stateful proxy core with registrar, authentication and anti-abuse in front. */
export { SipProxy, type ProxyOptions } from "./proxy.js";
export { Guard, type GuardOptions } from "./guard.js";
export { resolveUri, resolveTargets, orderSrv, systemResolver, nextHopUri, uriTransport, type Destination, type SipResolver, type NaptrAnswer, type SrvAnswer, type ResolveOptions } from "./targets.js";
