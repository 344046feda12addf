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
  | { ok: true; query: DecodedPacket; opt: OptAnswer | undefined; opcode: number; /** The question section as received (echoed back), if exactly one. */ question: Buffer | undefined }
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
  let question: Buffer | undefined;
  if (bytes.readUInt16BE(4) === 1) {
    const end = questionEnd(bytes);
    // A compression pointer in the question name points nowhere useful (RFC 1035 4.1.4).
    if (end < 0) return { ok: false, reason: "compressed or malformed question name", formerr };
    question = bytes.subarray(12, end);
  }
  return { ok: true, query, opt, opcode, question };
}

/** Offset just past the first question (name + type + class), or -1. */
function questionEnd(buf: Buffer): number {
  let i = 12;
  for (;;) {
    if (i >= buf.length) return -1;
    const len = buf[i]!;
    if (len === 0) break;
    if (len & 0xc0) return -1;
    i += 1 + len;
  }
  i += 1 + 4;
  return i <= buf.length ? i : -1;
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

/** A response as pre-encoded pieces (see zone.ts `WireRR`), assembled by {@link encodeResponse}. */
export interface ResponseParts {
  id: number;
  /** Header flags without QR (opcode, AA, RD, CD, RCODE). */
  flags: number;
  /** The question as received, or none. */
  question: Buffer | undefined;
  /** Answer records; their owner is written as a pointer to the question name (RFC 1035 4.1.4). */
  answers: readonly WireRR[];
  authorities: readonly WireRR[];
  additionals: readonly WireRR[];
  /** Our OPT record (RFC 6891 6.1.2), when the query had one. */
  opt: { udpPayload: number; extendedRcode: number } | undefined;
}

export interface WireRR {
  readonly wire: Buffer;
  readonly nameLength: number;
}

const OPT_LENGTH = 11;

/**
 * Encode a response within `limit` bytes. When it does not fit, the
 * additional section goes first, then the authority section (neither needs
 * TC, RFC 2181 9); when the answer itself does not fit, the answer is sent
 * empty with TC set so the client retries over TCP (RFC 1035 4.2.1, RFC 7766).
 * The OPT record is always kept (RFC 6891 7).
 */
export function encodeResponse(parts: ResponseParts, limit: number): EncodedResponse {
  const qlen = parts.question?.length ?? 0;
  const optLen = parts.opt ? OPT_LENGTH : 0;
  const answerLen = parts.answers.reduce((n, r) => n + (parts.question ? 2 + r.wire.length - r.nameLength : r.wire.length), 0);
  const authLen = parts.authorities.reduce((n, r) => n + r.wire.length, 0);
  const addLen = parts.additionals.reduce((n, r) => n + r.wire.length, 0);
  const base = 12 + qlen + optLen;
  let answers = parts.answers;
  let authorities = parts.authorities;
  let additionals = parts.additionals;
  let flags = parts.flags;
  let size = base + answerLen + authLen + addLen;
  if (size > limit) {
    additionals = [];
    size = base + answerLen + authLen;
  }
  if (size > limit) {
    authorities = [];
    size = base + answerLen;
  }
  const truncated = size > limit;
  if (truncated) {
    answers = [];
    size = base;
    flags |= FLAG_TC;
  }
  const buf = Buffer.allocUnsafe(size);
  buf.writeUInt16BE(parts.id & 0xffff, 0);
  buf.writeUInt16BE(FLAG_QR | (flags & 0x7fff), 2);
  buf.writeUInt16BE(parts.question ? 1 : 0, 4);
  buf.writeUInt16BE(answers.length, 6);
  buf.writeUInt16BE(authorities.length, 8);
  buf.writeUInt16BE(additionals.length + (parts.opt ? 1 : 0), 10);
  let o = 12;
  if (parts.question) o += parts.question.copy(buf, o);
  for (const r of answers) {
    if (parts.question) {
      buf.writeUInt16BE(0xc00c, o);
      o += 2 + r.wire.copy(buf, o + 2, r.nameLength);
    } else o += r.wire.copy(buf, o);
  }
  for (const r of authorities) o += r.wire.copy(buf, o);
  for (const r of additionals) o += r.wire.copy(buf, o);
  if (parts.opt) {
    buf[o] = 0; // root owner
    buf.writeUInt16BE(41, o + 1); // TYPE OPT
    buf.writeUInt16BE(parts.opt.udpPayload, o + 3); // CLASS = payload size
    buf[o + 5] = parts.opt.extendedRcode;
    buf[o + 6] = 0; // VERSION
    buf.writeUInt16BE(0, o + 7); // DO and Z
    buf.writeUInt16BE(0, o + 9); // RDLEN
    o += OPT_LENGTH;
  }
  return { bytes: buf, truncated };
}

export type { Answer, DecodedPacket, OptAnswer, Packet };
