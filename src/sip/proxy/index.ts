/** sip/proxy — the stateful proxy core with registrar, authentication and anti-abuse in front. */
export { SipProxy, type ProxyOptions } from "./proxy.js";
export { Guard, type GuardOptions } from "./guard.js";
export { resolveUri, nextHopUri, uriTransport, type Destination } from "./targets.js";
