/**
 * DNS messages on the wire, through `dns-packet` (sans-IO). Decoding never
 * throws: it returns the query or says why it is not one and whether the
 * sender deserves a FORMERR (RFC 1035 4.1.1) or silence.
 */
import dnsPacket, { type Answer, type DecodedPacket, type OptAnswer, type Packet } from "dns-packet";

/** Header flag bits (RFC 1035 4.1.1; AD/CD from RFC 4035). */
export const FLAG_QR = 1 << 15;
export const FLAG_AA = 1 << 10;
export const FLAG_TC = 1 << 9;
export const FLAG_RD = 1 << 8;
export const FLAG_CD = 1 << 4;

export const RCODE = { NOERROR: 0, FORMERR: 1, SERVFAIL: 2, NXDOMAIN: 3, NOTIMP: 4, REFUSED: 5 } as const;
/** Extended RCODE 16 (RFC 6891 6.1.3): upper 8 bits in the OPT record, lower 4 in the header. */
export const BADVERS = 16;

export const OPCODE_QUERY = 0;

export type QueryDecode =
  | { ok: true; query: DecodedPacket; opt: OptAnswer | undefined; opcode: number }
  | { ok: false; reason: string; /** Send a header-only FORMERR with this id, or nothing. */ formerr: { id: number; opcode: number; rd: boolean } | undefined };

/** Smallest possible query: header (12) + root name (1) + type and class (4). */
const MIN_QUERY = 17;

export function decodeQuery(buf: Uint8Array): QueryDecode {
  if (buf.length < 12) return { ok: false, reason: "shorter than a DNS header", formerr: undefined };
  const bytes = Buffer.isBuffer(buf) ? buf : Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  const id = bytes.readUInt16BE(0);
  const flags = bytes.readUInt16BE(2);
  // RFC 1035 4.1.1: never answer a response (avoids loops with other servers).
  if (flags & FLAG_QR) return { ok: false, reason: "a response, not a query", formerr: undefined };
  const opcode = (flags >> 11) & 0xf;
  const formerr = { id, opcode, rd: (flags & FLAG_RD) !== 0 };
  if (buf.length < MIN_QUERY) return { ok: false, reason: "truncated query", formerr };
  let query: DecodedPacket;
  try {
    query = dnsPacket.decode(bytes);
  } catch (err) {
    return { ok: false, reason: `undecodable: ${(err as Error).message}`, formerr };
  }
  const opts = (query.additionals ?? []).filter((a): a is OptAnswer => a.type === "OPT");
  // RFC 6891 6.1.1: more than one OPT record is a FORMERR.
  if (opts.length > 1) return { ok: false, reason: "more than one OPT record", formerr };
  const opt = opts[0];
  if (opt && opt.name !== "." && opt.name !== "") return { ok: false, reason: "OPT owner is not the root", formerr };
  return { ok: true, query, opt, opcode };
}

/** A header-only answer (FORMERR for an undecodable query). */
export function encodeHeaderOnly(id: number, opcode: number, rd: boolean, rcode: number): Buffer {
  const buf = Buffer.alloc(12);
  buf.writeUInt16BE(id, 0);
  buf.writeUInt16BE(FLAG_QR | ((opcode & 0xf) << 11) | (rd ? FLAG_RD : 0) | (rcode & 0xf), 2);
  return buf;
}

export interface EncodedResponse {
  bytes: Buffer;
  truncated: boolean;
}

/**
 * Encode a response within `limit` bytes. When it does not fit, the
 * additional section goes first, then the authority section (neither needs
 * TC, RFC 2181 9); when the answer itself does not fit, the answer is sent
 * empty with TC set so the client retries over TCP (RFC 1035 4.2.1, RFC 7766).
 * The OPT record is always kept (RFC 6891 7).
 */
export function encodeResponse(packet: Packet, limit: number): EncodedResponse {
  const full = dnsPacket.encode(packet);
  if (full.length <= limit) return { bytes: full, truncated: false };
  const opt = (packet.additionals ?? []).filter((a) => a.type === "OPT");
  const noAdditional: Packet = { ...packet, additionals: opt };
  const b1 = dnsPacket.encode(noAdditional);
  if (b1.length <= limit) return { bytes: b1, truncated: false };
  const noAuthority: Packet = { ...noAdditional, authorities: [] };
  const b2 = dnsPacket.encode(noAuthority);
  if (b2.length <= limit) return { bytes: b2, truncated: false };
  const tc: Packet = { ...noAuthority, answers: [], flags: (packet.flags ?? 0) | FLAG_TC };
  return { bytes: dnsPacket.encode(tc), truncated: true };
}

export type { Answer, DecodedPacket, OptAnswer, Packet };
