/**
 * RTP and RTCP header inspection (RFC 3550 5.1, 6.4; RFC 5761 4 for
 * multiplexing RTP and RTCP on one port). Sans-IO: functions read a packet
 * in place and return plain values; nothing here allocates, throws or
 * touches a socket, so the relay's fast path can call them per packet and
 * a fuzzer can feed them anything.
 *
 * RTP fixed header (12 bytes): V=2 (2 bits), P, X, CC (4), M, PT (7),
 * sequence number (16), timestamp (32), SSRC (32), then CC CSRCs.
 */

/** What a datagram arriving on a relay port is. */
export const PacketKind = {
  /** Not RTP nor RTCP: wrong version, too short, or a header that overruns the packet. */
  Invalid: 0,
  Rtp: 1,
  Rtcp: 2,
} as const;
export type PacketKind = (typeof PacketKind)[keyof typeof PacketKind];

/** The smallest RTP packet: the fixed header. */
export const RTP_HEADER_BYTES = 12;
/** The smallest RTCP packet: one header and the sender's SSRC. */
export const RTCP_MIN_BYTES = 8;

/**
 * Classify a datagram. RFC 5761 4: with RTP and RTCP on one port, a second
 * byte in 192..223 (RTCP packet types 200..204 and the reserved neighbours,
 * i.e. RTP payload types 64..95 with the marker bit) is RTCP.
 */
export function classifyPacket(p: Uint8Array): PacketKind {
  if (p.length < RTCP_MIN_BYTES || (p[0]! & 0xc0) !== 0x80) return PacketKind.Invalid;
  const second = p[1]!;
  if (second >= 192 && second <= 223) {
    // RFC 3550 6.4: length is in 32-bit words minus one; the first packet of a compound must fit.
    const words = (p[2]! << 8) | p[3]!;
    return (words + 1) * 4 <= p.length ? PacketKind.Rtcp : PacketKind.Invalid;
  }
  if (p.length < RTP_HEADER_BYTES) return PacketKind.Invalid;
  const cc = p[0]! & 0x0f;
  return RTP_HEADER_BYTES + cc * 4 <= p.length ? PacketKind.Rtp : PacketKind.Invalid;
}

/** RTP payload type (7 bits). */
export function rtpPayloadType(p: Uint8Array): number {
  return p[1]! & 0x7f;
}

/** RTP sequence number. */
export function rtpSequence(p: Uint8Array): number {
  return (p[2]! << 8) | p[3]!;
}

/** RTP timestamp (unsigned 32 bits). */
export function rtpTimestamp(p: Uint8Array): number {
  return ((p[4]! << 24) | (p[5]! << 16) | (p[6]! << 8) | p[7]!) >>> 0;
}

/** RTP synchronisation source (unsigned 32 bits). */
export function rtpSsrc(p: Uint8Array): number {
  return ((p[8]! << 24) | (p[9]! << 16) | (p[10]! << 8) | p[11]!) >>> 0;
}

/** What the first report block of an RTCP SR or RR says about the stream it reports on. */
export interface RtcpReport {
  /** RFC 3550 6.4.1 "fraction lost", 0..1. */
  fractionLost: number;
  /** Cumulative number of packets lost (24-bit signed). */
  cumulativeLost: number;
  /** Interarrival jitter in timestamp units. */
  jitter: number;
}

/**
 * The first report block of the first SR (PT 200) or RR (PT 201) in a
 * compound RTCP packet, or undefined when there is none (RFC 3550 6.4.1,
 * 6.4.2). A report block is 24 bytes after the 8-byte header (RR) or after
 * the header and the 20-byte sender info (SR).
 */
export function rtcpFirstReport(p: Uint8Array): RtcpReport | undefined {
  let off = 0;
  // At most 8 packets of a compound are looked at: a bound on the work per datagram.
  for (let i = 0; i < 8 && off + RTCP_MIN_BYTES <= p.length; i++) {
    if ((p[off]! & 0xc0) !== 0x80) return undefined;
    const rc = p[off]! & 0x1f;
    const pt = p[off + 1]!;
    const len = (((p[off + 2]! << 8) | p[off + 3]!) + 1) * 4;
    if (off + len > p.length) return undefined;
    const block = pt === 200 ? off + 28 : pt === 201 ? off + 8 : -1;
    if (block >= 0 && rc > 0 && block + 24 <= off + len) {
      const lostRaw = (p[block + 5]! << 16) | (p[block + 6]! << 8) | p[block + 7]!;
      return {
        fractionLost: p[block + 4]! / 256,
        cumulativeLost: lostRaw & 0x800000 ? lostRaw - 0x1000000 : lostRaw,
        jitter: ((p[block + 12]! << 24) | (p[block + 13]! << 16) | (p[block + 14]! << 8) | p[block + 15]!) >>> 0,
      };
    }
    off += len;
  }
  return undefined;
}
