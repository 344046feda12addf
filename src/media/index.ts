/**
 * media/ — floor 1. The RTP/RTCP relay engine: sessions, the port pool,
 * symmetric latching, per-stream statistics, and the rtpengine ng client
 * (the optional second engine). Knows nothing of SIP or of the overlay.
 */
export { MediaRelay, type MediaDescription, type RelayStatistics } from "./relay.js";
export type { MediaEngine } from "./engine.js";
export type { StreamTarget, RelayedStream, SessionSummary, LegSummary, DropCounters, RelayCounters } from "./session.js";
export type { StreamCounters } from "./stream-stats.js";
export {
  DEFAULT_MEDIA_PORT_MIN,
  DEFAULT_MEDIA_PORT_MAX,
  DEFAULT_MEDIA_INACTIVITY_MS,
  DEFAULT_MEDIA_MAX_SESSIONS,
  DEFAULT_MEDIA_MAX_STREAMS,
  DEFAULT_MEDIA_FLOOD_PPS,
  type MediaInterface,
  type MediaRelayOptions,
} from "./options.js";
export { RelayDrainingError, RelayCapacityError, SessionNotFoundError, MediaRequestError, RtpengineError } from "./errors.js";
export { sessionChannel } from "./diagnostics.js";
export { mediaDescriptionSchema, mediaDeleteSchema, mediaQuerySchema, relayedStreamsSchema, streamTargetSchema, type MediaDescriptionPayload } from "./control-codec.js";
export { RtpengineEngine, parseNgAddress, DEFAULT_RTPENGINE_TIMEOUT_MS, type RtpengineOptions } from "./rtpengine.js";
export { encodeBencode, decodeBencode, MAX_BENCODE_DEPTH, MAX_BENCODE_ITEMS, type BValue, type BDecode } from "./bencode-codec.js";
