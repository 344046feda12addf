/**
 * sip/transport — sockets for SIP: UDP, TCP, TLS, WebSocket; flows.
 */
export { TransportLayer, type TransportLayerOptions, type TransportStats, type PeerTls } from "./layer.js";
export { parseListenSpec, isReliable, type TransportName, type Address, type Flow, type Inbound, type ListenSpec } from "./types.js";
export { ConnectionCounter, CostRecord, DEFAULT_CONNECTION_LIMITS, type ConnectionLimits } from "./limits.js";
export { slowMessageChannel, SLOW_MESSAGE_US } from "./diagnostics.js";
