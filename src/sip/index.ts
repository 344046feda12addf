/**
 * sip/ — floor 1. The SIP stack: message layer, transports, transactions,
 * proxy core, registrar, digest authentication. Imports only base/.
 */
export { SipServer, type SipServerOptions } from "./server.js";
export { SipProxy, Guard, resolveTargets, systemResolver, type ProxyOptions, type GuardOptions, type SipResolver, type Destination } from "./proxy/index.js";
export { TransportLayer, parseListenSpec, type ListenSpec, type TransportName, type Flow } from "./transport/index.js";
export { MemoryCredentialStore, DigestAuthenticator, computeHa1, digestResponse, type CredentialStore, type Credentials, type DigestAlgorithm } from "./auth/index.js";
export { Registrar, LocationStore, type Binding } from "./registrar/index.js";
export { DEFAULT_TIMERS, type TimerConfig } from "./transaction/index.js";
export { parseMessage, serializeMessage, StreamFramer, type AnyMessage, SipRequest, SipResponse } from "./message/index.js";
