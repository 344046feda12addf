/**
 * sip/transport — sockets for SIP behind the {@link SipTransport} contract:
 * UDP (udp.ts), TCP/TLS (stream.ts), WebSocket (websocket.ts), the flow
 * table (flows.ts), Via stamping and response routing (via.ts), composed by
 * the transport layer (layer.ts).
 */
export { TransportLayer, type TransportLayerOptions } from "./layer.js";
export type { SipTransport, SipReceiver, SendDestination, BoundListener } from "./transport.js";
export type { PeerTls, TransportStats } from "./context.js";
export { stampReceived, responseDestination } from "./via.js";
export { parseListenSpec, isReliable, type TransportName, type Address, type Flow, type Inbound, type ListenSpec, type SharedSocketOpener } from "./types.js";
export { ConnectionCounter, CostRecord, DEFAULT_CONNECTION_LIMITS, type ConnectionLimits } from "./limits.js";
export { slowMessageChannel, SLOW_MESSAGE_US } from "./diagnostics.js";
