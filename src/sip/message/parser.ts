/**
 * Parsing SIP messages from bytes (RFC 3261 section 7 and 25), sans-IO.
 *
 * `parseMessage` takes one datagram (or one framed stream message) and
 * returns the message or a {@link SipParseError}: the reason, the status a
 * server should answer with (400, 505, 413), and, when the start line and
 * the headers needed for a response could be read, enough of the request to
 * build that response. Nothing here throws on bad input.
 */
import { headerKey } from "./header-names.js";
import { parseCSeq, parseNameAddr, parseUInt, parseVia } from "./header-values.js";
import { SipRequest, SipResponse, type AnyMessage, type Header } from "./message.js";
import { parseUri } from "./uri.js";

export interface SipParseError {
  reason: string;
  /** Status to answer a request with; undefined when no answer can be formed. */
  status: 400 | 413 | 416 | 505 | undefined;
  /** What could be read of a request, to answer it. */
  request?: { method: string; uri: string; headers: Header[] };
}

export type ParseResult = { ok: true; message: AnyMessage } | { ok: false; error: SipParseError };

/** @default 65535 bytes */
export const DEFAULT_MAX_MESSAGE = 65_535;

const METHOD = /^[A-Za-z0-9\-.!%*_+`'~]+$/;
const HEADER_NAME = /^[A-Za-z0-9\-.!%*_+`'~]+$/;
const SINGLE = ["from", "to", "call-id", "cseq", "max-forwards", "content-length", "content-type", "expires", "min-expires"];

function failure(reason: string, status: SipParseError["status"], request?: SipParseError["request"]): ParseResult {
  return { ok: false, error: request ? { reason, status, request } : { reason, status } };
}

/** Index just after the blank line ending the header section, and where that blank line starts. */
export function findHeaderEnd(buf: Buffer, from = 0): { headEnd: number; bodyStart: number } | undefined {
  const crlf = buf.indexOf("\r\n\r\n", from, "latin1");
  const lf = buf.indexOf("\n\n", from, "latin1");
  if (crlf >= 0 && (lf < 0 || crlf + 1 <= lf)) return { headEnd: crlf + 1, bodyStart: crlf + 4 };
  if (lf >= 0) return { headEnd: lf, bodyStart: lf + 2 };
  const mixed = buf.indexOf("\n\r\n", from, "latin1");
  return mixed >= 0 ? { headEnd: mixed, bodyStart: mixed + 3 } : undefined;
}

/** Split the header section into the start line and unfolded header lines. */
function lines(text: string): string[] | undefined {
  const out: string[] = [];
  let pos = 0;
  while (pos < text.length) {
    let nl = text.indexOf("\n", pos);
    if (nl < 0) nl = text.length;
    const line = text.charCodeAt(nl - 1) === 13 ? text.slice(pos, nl - 1) : text.slice(pos, nl);
    pos = nl + 1;
    if (line.length === 0) continue;
    const c = line.charCodeAt(0);
    if (c === 32 || c === 9) {
      if (out.length < 2) return undefined; // folding of the start line, or before the first header
      out[out.length - 1] += ` ${line.trim()}`;
    } else out.push(line);
  }
  return out;
}

export interface ParseOptions {
  maxMessage?: number;
  /** Framed by a stream: the body is exactly Content-Length bytes (already cut by the framer). */
  stream?: boolean;
}

export function parseMessage(buf: Buffer, opts: ParseOptions = {}): ParseResult {
  const max = opts.maxMessage ?? DEFAULT_MAX_MESSAGE;
  let start = 0;
  while (start < buf.length && (buf[start] === 0x0d || buf[start] === 0x0a)) start++;
  if (start === buf.length) return failure("empty message", undefined);
  if (buf.length - start > max) return failure(`message larger than ${max} bytes`, 413);
  const end = findHeaderEnd(buf, start);
  // A datagram without the blank line is accepted if it ends right after a header line.
  const headEnd = end ? end.headEnd : buf.length;
  const bodyStart = end ? end.bodyStart : buf.length;
  const head = buf.toString("utf8", start, headEnd);
  const all = lines(head);
  if (!all || all.length === 0) return failure("malformed line folding", 400);
  const startLine = all[0]!;
  const headers: Header[] = [];
  for (let i = 1; i < all.length; i++) {
    const line = all[i]!;
    const colon = line.indexOf(":");
    const name = colon > 0 ? line.slice(0, colon).replace(/[ \t]+$/, "") : "";
    if (!HEADER_NAME.test(name)) return startFailure(startLine, headers, `malformed header line "${line.slice(0, 40)}"`);
    headers.push({ name, key: headerKey(name), value: line.slice(colon + 1).trim() });
  }

  let body = buf.subarray(bodyStart);
  if (!end && body.length === 0 && !/\r?\n$/.test(head)) {
    // no blank line at all: fine for a datagram, the body is empty
  }
  const cl = headers.find((h) => h.key === "content-length");
  if (cl) {
    const n = parseUInt(cl.value);
    if (n === undefined) return startFailure(startLine, headers, "invalid Content-Length");
    if (n > body.length) return startFailure(startLine, headers, `Content-Length ${n} larger than the ${body.length}-byte body`);
    body = body.subarray(0, n);
  } else if (opts.stream) {
    return startFailure(startLine, headers, "Content-Length is required on stream transports");
  }

  if (startLine.startsWith("SIP/")) return parseResponse(startLine, headers, body);
  return parseRequest(startLine, headers, body);
}

function startFailure(startLine: string, headers: Header[], reason: string): ParseResult {
  const m = /^([A-Za-z0-9\-.!%*_+`'~]+) (\S+) SIP\/2\.0$/i.exec(startLine);
  return failure(reason, m ? 400 : undefined, m ? { method: m[1]!, uri: m[2]!, headers } : undefined);
}

const SINGLE_SET = new Set(SINGLE);
const REQUIRED = ["via", "from", "to", "call-id", "cseq"];

function common(headers: Header[]): string | undefined {
  const seen = new Set<string>();
  for (const h of headers) {
    if (!SINGLE_SET.has(h.key)) continue;
    if (seen.has(h.key)) return `more than one ${h.key} header`;
    seen.add(h.key);
  }
  for (const k of REQUIRED) if (!seen.has(k) && !headers.some((h) => h.key === k)) return `missing ${k} header`;
  const via = headers.find((h) => h.key === "via")!;
  const topVia = parseVia(via.value.split(",")[0] ?? "");
  if (!topVia.ok) return topVia.reason;
  const callId = headers.find((h) => h.key === "call-id")!.value;
  if (callId.length === 0 || /\s/.test(callId)) return "invalid Call-ID";
  for (const k of ["from", "to"]) {
    const na = parseNameAddr(headers.find((h) => h.key === k)!.value);
    if (!na.ok) return `invalid ${k} header: ${na.reason}`;
  }
  const mf = headers.find((h) => h.key === "max-forwards");
  if (mf && parseUInt(mf.value, 255) === undefined) return "invalid Max-Forwards";
  const exp = headers.find((h) => h.key === "expires");
  if (exp && parseUInt(exp.value) === undefined) return "invalid Expires";
  return undefined;
}

function parseRequest(startLine: string, headers: Header[], body: Buffer): ParseResult {
  const parts = startLine.split(" ");
  if (parts.length !== 3) {
    const answerable = parts.length >= 3 && METHOD.test(parts[0]!) && /SIP\/2\.0\s*$/i.test(startLine);
    return failure("malformed request line (Method SP Request-URI SP SIP-Version)", answerable ? 400 : undefined, answerable ? { method: parts[0]!, uri: parts.filter(Boolean)[1] ?? "", headers } : undefined);
  }
  const [method, uri, version] = parts as [string, string, string];
  if (!METHOD.test(method)) return failure(`invalid method "${method.slice(0, 20)}"`, undefined);
  const request = { method, uri, headers };
  if (!/^SIP\/\d+\.\d+$/i.test(version)) return failure(`malformed SIP version "${version.slice(0, 20)}"`, 400, request);
  if (version.toUpperCase() !== "SIP/2.0") return failure(`SIP version ${version} not supported`, 505, request);
  const problem = common(headers);
  if (problem) return failure(problem, 400, request);
  const ruri = parseUri(uri);
  if (!ruri.ok) return failure(`invalid Request-URI: ${ruri.reason}`, 400, request);
  if (ruri.uri.kind === "sip" && ruri.uri.headers !== undefined) return failure("the Request-URI must not contain headers (RFC 3261 19.1.5)", 400, request);
  const cseq = parseCSeq(headers.find((h) => h.key === "cseq")!.value);
  if (!cseq.ok) return failure(cseq.reason, 400, request);
  if (cseq.value.method !== method) return failure(`CSeq method ${cseq.value.method} does not match ${method}`, 400, request);
  return { ok: true, message: new SipRequest(method, uri, headers, body) };
}

function parseResponse(startLine: string, headers: Header[], body: Buffer): ParseResult {
  const m = /^SIP\/2\.0 (\d{3})(?: (.*))?$/i.exec(startLine);
  if (!m) return failure("malformed status line", undefined);
  const status = Number(m[1]);
  if (status < 100 || status > 699) return failure(`status ${status} out of range`, undefined);
  const problem = common(headers);
  if (problem) return failure(problem, undefined);
  if (!parseCSeq(headers.find((h) => h.key === "cseq")!.value).ok) return failure("malformed CSeq", undefined);
  return { ok: true, message: new SipResponse(status, m[2] ?? "", headers, body) };
}
