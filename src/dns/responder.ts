/**
 * Bytes in, bytes out (sans-IO): what the UDP and TCP servers call for each
 * message. Undecodable queries get a header-only FORMERR when their header
 * can be read, and nothing otherwise; nothing here throws on bad input.
 */
import type { Authority } from "./authority.js";
import { answerQuery, rcodeName, type AnswerOptions } from "./answer.js";
import { decodeQuery, encodeHeaderOnly, encodeResponse, RCODE } from "./message-codec.js";

export type Transport = "udp" | "tcp";

export type Outcome =
  | { kind: "answer"; bytes: Buffer; qtype: string; rcode: string; truncated: boolean }
  | { kind: "malformed"; bytes: Buffer | undefined; reason: string };

/** Largest DNS message over TCP (two-byte length prefix, RFC 1035 4.2.2). */
const TCP_LIMIT = 65_535;

export class Responder {
  constructor(
    private readonly authority: Authority,
    private readonly opts: AnswerOptions = {},
  ) {}

  /** `forceTruncate`: answer empty with TC (rate limiting's "slip"). */
  respond(message: Uint8Array, transport: Transport, forceTruncate = false): Outcome {
    const decoded = decodeQuery(message);
    if (!decoded.ok) {
      const f = decoded.formerr;
      return { kind: "malformed", bytes: f ? encodeHeaderOnly(f.id, f.opcode, f.rd, RCODE.FORMERR) : undefined, reason: decoded.reason };
    }
    let result;
    try {
      result = answerQuery(decoded.query, decoded.opt, decoded.opcode, decoded.question, this.authority, this.opts);
    } catch (err) {
      // A decoded packet of a shape dns-packet allows but we did not foresee.
      const id = decoded.query.id ?? 0;
      return { kind: "malformed", bytes: encodeHeaderOnly(id, decoded.opcode, false, RCODE.FORMERR), reason: `unanswerable: ${(err as Error).message}` };
    }
    let encoded;
    try {
      encoded = encodeResponse(result.parts, forceTruncate ? 0 : transport === "udp" ? result.udpLimit : TCP_LIMIT);
    } catch (err) {
      // The question echoed back cannot be encoded (e.g. a label dns-packet decoded but cannot write).
      return { kind: "malformed", bytes: encodeHeaderOnly(decoded.query.id ?? 0, decoded.opcode, false, RCODE.FORMERR), reason: `unencodable: ${(err as Error).message}` };
    }
    return { kind: "answer", bytes: encoded.bytes, qtype: result.qtype, rcode: rcodeName(result.rcode), truncated: encoded.truncated };
  }
}
