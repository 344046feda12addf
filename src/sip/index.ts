/**
 * sip/ — floor 1. The SIP stack: message layer, transports, transactions,
 * proxy core, registrar, digest authentication. Imports only base/.
 */
export { SipServer, type SipServerOptions } from "./server.js";
export { SipProxy, Guard, encodeFlowToken, decodeFlowToken, resolveTargets, systemResolver, type ProxyOptions, type GuardOptions, type ClusterHooks, type FlowRef, type SipResolver, type Destination } from "./proxy/index.js";
export { TransportLayer, parseListenSpec, type ListenSpec, type TransportName, type Flow, type PeerTls } from "./transport/index.js";
export { MemoryCredentialStore, DigestAuthenticator, computeHa1, digestResponse, type CredentialStore, type AsyncCredentialStore, type Credentials, type DigestAlgorithm } from "./auth/index.js";
export { Registrar, LocationStore, LocalLocation, type Binding, type LocationService, type RegisterData, type RegisterOutcome } from "./registrar/index.js";
export { DEFAULT_TIMERS, type TimerConfig } from "./transaction/index.js";
export { canonicalHost } from "./message/index.js";
export { parseMessage, serializeMessage, StreamFramer, type AnyMessage, SipRequest, SipResponse } from "./message/index.js";
