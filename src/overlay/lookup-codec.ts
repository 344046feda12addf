/**
 * The public lookup protocol (TCP, port 9500, as in SIP Thor), sans-IO.
 * One request per line (LF or CR LF), exactly one answer line per request
 * line, in request order; requests may be pipelined:
 *
 *   lookup <role> for <user@domain>   → the responsible node's IP, or `None`
 *   is_online <ip> as <role>          → `Yes` or `No`
 *   anything else (blank lines too)   → `error: <reason>`
 *
 * A line longer than the limit is answered `error: line too long ...` and the
 * connection must then be closed: the rest of the stream cannot be trusted to
 * be framed. Nothing here throws on bad input.
 */
import { ROLE_NAME } from "./entity.js";
import { normalizeKey } from "./key.js";
import { DEFAULT_MAX_LINE } from "./options.js";

export type LookupRequest = { kind: "lookup"; role: string; key: string } | { kind: "is_online"; ip: string; role: string };

/**
 * One decoded request line: a request to answer, or an error to answer with
 * `error: <reason>`. `fatal` errors (line too long) end the connection.
 */
export type LookupLine = { kind: "request"; req: LookupRequest } | { kind: "error"; reason: string; fatal?: true };

/** What an answer line says, from the client's side. */
export type LookupAnswer = { kind: "address"; ip: string } | { kind: "none" } | { kind: "yes" } | { kind: "no" } | { kind: "error"; reason: string };

/** What {@link formatAnswer} needs from a role map (structural, so tests can stub it). */
export interface LookupSource {
  lookup(role: string, key: string): { readonly ip: string } | undefined;
  isOnline(ip: string, role: string): boolean;
}

const IP_LIKE = /^[0-9A-Fa-f:.]{2,45}$/;
const MAX_REASON = 200;
const LOOKUP_USAGE = 'expected "lookup <role> for <user@domain>"';
const ONLINE_USAGE = 'expected "is_online <ip> as <role>"';

function error(reason: string): LookupLine {
  return { kind: "error", reason };
}

/** Untrusted text quoted for an error reason: printable ASCII only, bounded. */
function quote(text: string, max = 40): string {
  return `"${text.slice(0, max).replace(/[^\x20-\x7e]/g, "?")}${text.length > max ? "..." : ""}"`;
}

/** Parse one request line (without its line terminator). */
export function parseRequest(line: string): LookupLine {
  const words = line.split(/\s+/).filter((w) => w.length > 0);
  const verb = words[0];
  if (verb === undefined) return error("empty request");
  if (verb === "lookup") {
    if (words.length !== 4 || words[2] !== "for") return error(LOOKUP_USAGE);
    const role = words[1]!;
    if (!ROLE_NAME.test(role)) return error(`invalid role ${quote(role)}`);
    const key = normalizeKey(words[3]!);
    if (!key.ok) return error(`invalid key: ${key.reason}`);
    return { kind: "request", req: { kind: "lookup", role, key: key.key } };
  }
  if (verb === "is_online") {
    if (words.length !== 4 || words[2] !== "as") return error(ONLINE_USAGE);
    const ip = words[1]!;
    const role = words[3]!;
    if (!IP_LIKE.test(ip)) return error(`invalid address ${quote(ip, 46)}`);
    if (!ROLE_NAME.test(role)) return error(`invalid role ${quote(role)}`);
    return { kind: "request", req: { kind: "is_online", ip, role } };
  }
  return error(`unknown command ${quote(verb, 32)} (expected lookup or is_online)`);
}

/** The request line for `req`, without the line terminator. */
export function formatRequest(req: LookupRequest): string {
  return req.kind === "lookup" ? `lookup ${req.role} for ${req.key}` : `is_online ${req.ip} as ${req.role}`;
}

/** `error: <reason>`, with the reason reduced to printable ASCII (no CR/LF can leak into the stream). */
export function formatError(reason: string): string {
  const r = reason.replace(/[^\x20-\x7e]/g, "?");
  return `error: ${r.length > MAX_REASON ? `${r.slice(0, MAX_REASON)}...` : r}`;
}

/**
 * The answer line (without CR LF) to one decoded line. `map` is undefined
 * while the node has no membership yet.
 */
export function formatAnswer(line: LookupLine, map: LookupSource | undefined): string {
  if (line.kind === "error") return formatError(line.reason);
  if (!map) return formatError("no membership yet");
  const req = line.req;
  if (req.kind === "lookup") return map.lookup(req.role, req.key)?.ip ?? "None";
  return map.isOnline(req.ip, req.role) ? "Yes" : "No";
}

/** Read one answer line (CR allowed at the end). */
export function parseAnswer(line: string): LookupAnswer {
  const l = line.endsWith("\r") ? line.slice(0, -1) : line;
  if (l === "None") return { kind: "none" };
  if (l === "Yes") return { kind: "yes" };
  if (l === "No") return { kind: "no" };
  if (l.startsWith("error:")) return { kind: "error", reason: l.slice(6).trim() };
  if (IP_LIKE.test(l)) return { kind: "address", ip: l };
  return { kind: "error", reason: `unexpected answer ${quote(l)}` };
}

/**
 * Splits a byte stream into request lines and parses them; never throws.
 * Holds at most `maxLine + 1` bytes of an unfinished line.
 */
export class LookupLineDecoder {
  private pending: Buffer = Buffer.alloc(0);
  private dead = false;

  constructor(private readonly maxLine = DEFAULT_MAX_LINE) {}

  /** True once a fatal error was returned: answer what was returned, then close. */
  get mustClose(): boolean {
    return this.dead;
  }

  /** Bytes of an unfinished line held. */
  get buffered(): number {
    return this.pending.length;
  }

  push(chunk: Uint8Array): LookupLine[] {
    if (this.dead) return [];
    const out: LookupLine[] = [];
    const data = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    let buf = this.pending.length > 0 ? Buffer.concat([this.pending, data]) : data;
    for (;;) {
      const nl = buf.indexOf(0x0a);
      if (nl < 0) break;
      const end = nl > 0 && buf[nl - 1] === 0x0d ? nl - 1 : nl;
      if (end > this.maxLine) return this.fail(out);
      out.push(parseRequest(buf.toString("utf8", 0, end)));
      buf = buf.subarray(nl + 1);
    }
    const held = buf.length > 0 && buf[buf.length - 1] === 0x0d ? buf.length - 1 : buf.length;
    if (held > this.maxLine) return this.fail(out);
    // Copy: the caller may reuse the chunk's memory.
    this.pending = buf.length > 0 ? Buffer.from(buf) : Buffer.alloc(0);
    return out;
  }

  private fail(out: LookupLine[]): LookupLine[] {
    this.dead = true;
    this.pending = Buffer.alloc(0);
    out.push({ kind: "error", reason: `line too long (limit ${this.maxLine} bytes)`, fatal: true });
    return out;
  }
}
