/** Options of the media relay engine and their defaults. */
import type { Clock, Logger } from "../base/index.js";

/** @default 40000-49999: the UDP ports RTP/RTCP pairs are taken from (RTP on the even port). */
export const DEFAULT_MEDIA_PORT_MIN = 40000;
export const DEFAULT_MEDIA_PORT_MAX = 49999;
/** @default 60 s: a session that relayed nothing for this long is removed (a lost BYE leaks nothing). */
export const DEFAULT_MEDIA_INACTIVITY_MS = 60_000;
/** @default 4000: sessions one relay holds at most. */
export const DEFAULT_MEDIA_MAX_SESSIONS = 4000;
/** @default 8: media streams (m= lines) per session at most. */
export const DEFAULT_MEDIA_MAX_STREAMS = 8;
/**
 * @default 1500: packets per second one leg may send before the excess is
 * dropped as a flood (G.711 is 50/s; HD video stays well below 1500/s).
 */
export const DEFAULT_MEDIA_FLOOD_PPS = 1500;

/** An address the relay listens on, and the one it writes into SDP (behind 1:1 NAT they differ). */
export interface MediaInterface {
  /** Listen address (IPv4 or IPv6); at most one per family. */
  listen: string;
  /** Address advertised in SDP. @default listen */
  advertise?: string;
}

export interface MediaRelayOptions {
  interfaces: MediaInterface[];
  logger: Logger;
  clock?: Clock;
  /** @default DEFAULT_MEDIA_PORT_MIN */
  portMin?: number;
  /** @default DEFAULT_MEDIA_PORT_MAX */
  portMax?: number;
  /** @default DEFAULT_MEDIA_INACTIVITY_MS */
  inactivityMs?: number;
  /** @default DEFAULT_MEDIA_MAX_SESSIONS */
  maxSessions?: number;
  /** @default DEFAULT_MEDIA_MAX_STREAMS */
  maxStreams?: number;
  /** @default DEFAULT_MEDIA_FLOOD_PPS */
  floodPps?: number;
  /**
   * Which data path moves the packets: "native" (the forwarding thread of
   * native/media-forwarder; an error when it is not built) or "js" (Node
   * sockets). Unset: native when built, else js with a warning.
   */
  dataPath?: "native" | "js";
}
