/**
 * sip/ — floor 1. The SIP stack: message layer, transports, transactions,
 * proxy core, registrar, digest authentication. Imports only base/.
 */
export { SipServer, type SipServerOptions } from "./server.js";
export { SipProxy, Originator, type UacCallbacks, type UacTarget, encodeFlowToken, decodeFlowToken, resolveTargets, systemResolver, type ProxyOptions, type ClusterHooks, type ProxyCounters, type FlowRef, type SipResolver, type Destination } from "./proxy/index.js";
export { Guard, GuardInterceptor, type GuardOptions } from "./guard/index.js";
export { ProxyRequest, DecoratorHandler, compose, pluginInterceptor, isRejection, type Forward, type ForwardHandler, type Interceptor, type ProxyTarget, type RequestSource, type RoutingFacts, type ProxyPlugin, type ForwardContext, type ResponseHandler, type RequestVerdict } from "./pipeline/index.js";
export { TransportLayer, parseListenSpec, DEFAULT_CONNECTION_LIMITS, slowMessageChannel, SLOW_MESSAGE_US, type ConnectionLimits, type ListenSpec, type SharedSocketOpener, type TransportName, type Flow, type PeerTls } from "./transport/index.js";
export { MemoryCredentialStore, DigestAuthenticator, DigestAuthentication, computeHa1, digestResponse, type CredentialStore, type AsyncCredentialStore, type Credentials, type DigestAlgorithm, CredentialsUnavailableError } from "./auth/index.js";
export { Registrar, RegistrarUas, DEFAULT_MAX_CONTACTS, LocationStore, LocalLocation, LocationUnavailableError, LOCATION_RETRY_AFTER_S, FlowWatch, reachedOnlyOverFlow, type FailedFlow, type Binding, type LocationService, type LocationStoreView, type RegisterData, type RegisterOutcome } from "./registrar/index.js";
export { DEFAULT_TIMERS, type TimerConfig } from "./transaction/index.js";
export { sipRequestChannel, sipResponseChannel } from "./diagnostics.js";
export { canonicalHost, aorOf, parseUri, parseNameAddr, newTag, createResponse } from "./message/index.js";
export { parseMessage, serializeMessage, StreamFramer, DEFAULT_MESSAGE_LIMITS, type MessageLimits, type AnyMessage, SipRequest, SipResponse } from "./message/index.js";
