/**
 * The public lookup protocol (TCP, port 9500), sans-IO. One request per line
 * (LF or CRLF), one answer line per request, in order:
 *
 *   lookup <role> for <user@domain>   → the responsible node's IP, or `None`
 *   is_online <ip> as <role>          → `Yes` or `No`
 *   anything else                     → `error: <reason>`
 *
 * A line longer than the limit is answered `error: line too long` and the
 * connection is then closed (the rest of it cannot be trusted to be framed).
 */
import { ROLE_NAME } from "./entity.js";
import { normalizeKey } from "./key.js";
import { DEFAULT_MAX_LINE } from "./options.js";

export type LookupRequest = { kind: "lookup"; role: string; key: string } | { kind: "is_online"; ip: string; role: string };

export type ParsedLine = { ok: true; request: LookupRequest } | { ok: false; reason: string };

export type DecodedLine = ParsedLine | { ok: false; reason: string; fatal: true };

const IP_LIKE = /^[0-9A-Fa-f:.]{2,45}$/;

export function parseRequest(line: string): ParsedLine {
  const words = line.trim().split(/\s+/).filter((w) => w.length > 0);
  const verb = words[0];
  if (verb === undefined) return { ok: false, reason: "empty request" };
  if (verb === "lookup") {
    if (words.length !== 4 || words[2] !== "for") return { ok: false, reason: 'expected "lookup <role> for <user@domain>"' };
    const role = words[1]!;
    if (!ROLE_NAME.test(role)) return { ok: false, reason: `invalid role "${role.slice(0, 40)}"` };
    const key = normalizeKey(words[3]!);
    if (!key.ok) return { ok: false, reason: `invalid key: ${key.reason}` };
    return { ok: true, request: { kind: "lookup", role, key: key.key } };
  }
  if (verb === "is_online") {
    if (words.length !== 4 || words[2] !== "as") return { ok: false, reason: 'expected "is_online <ip> as <role>"' };
    const ip = words[1]!;
    const role = words[3]!;
    if (!IP_LIKE.test(ip)) return { ok: false, reason: `invalid address "${ip.slice(0, 46)}"` };
    if (!ROLE_NAME.test(role)) return { ok: false, reason: `invalid role "${role.slice(0, 40)}"` };
    return { ok: true, request: { kind: "is_online", ip, role } };
  }
  const shown = verb.slice(0, 32).replace(/[^\x20-\x7e]/g, "?");
  return { ok: false, reason: `unknown command "${shown}" (expected lookup or is_online)` };
}

/** Splits a byte stream into request lines; never throws. */
export class LookupLineDecoder {
  private pending: Buffer = Buffer.alloc(0);
  private dead = false;

  constructor(private readonly maxLine = DEFAULT_MAX_LINE) {}

  /** True once a fatal error was returned: answer it, then close. */
  get closed(): boolean {
    return this.dead;
  }

  push(chunk: Buffer): DecodedLine[] {
    if (this.dead) return [];
    const out: DecodedLine[] = [];
    let buf = this.pending.length > 0 ? Buffer.concat([this.pending, chunk]) : chunk;
    for (;;) {
      const nl = buf.indexOf(0x0a);
      if (nl < 0) break;
      if (nl > this.maxLine) return this.fail(out);
      let end = nl;
      if (end > 0 && buf[end - 1] === 0x0d) end--;
      const line = buf.subarray(0, end).toString("utf8");
      buf = buf.subarray(nl + 1);
      if (line.trim().length === 0) continue;
      out.push(parseRequest(line));
    }
    if (buf.length > this.maxLine) return this.fail(out);
    this.pending = Buffer.from(buf);
    return out;
  }

  private fail(out: DecodedLine[]): DecodedLine[] {
    this.dead = true;
    this.pending = Buffer.alloc(0);
    out.push({ ok: false, reason: `line too long (limit ${this.maxLine} bytes)`, fatal: true });
    return out;
  }
}

export function formatError(reason: string): string {
  return `error: ${reason}`;
}
