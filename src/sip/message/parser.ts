/**
 * Parsing SIP messages from bytes (RFC 3261 section 7 and 25), sans-IO.
 *
 * `parseMessage` takes one datagram (or one framed stream message) and
 * returns the message or a {@link SipParseError}: the reason, the status a
 * server should answer with (400, 505, 413), and, when the start line and
 * the headers needed for a response could be read, enough of the request to
 * build that response. Nothing here throws on bad input.
 */
import { headerKey, wireHeaderKey } from "./header-names.js";
import { isToken } from "./grammar.js";
import { parseCSeq, parseNameAddr, parseUInt, parseVia, type CSeq, type NameAddr, type Via } from "./header-values.js";
import { SipRequest, SipResponse, type AnyMessage, type Header } from "./message.js";
import { countEntries, DEFAULT_MESSAGE_LIMITS, type MessageLimits } from "./limits.js";
import { parseUri } from "./uri.js";

export interface SipParseError {
  reason: string;
  /** Status to answer a request with; undefined when no answer can be formed. */
  status: 400 | 413 | 416 | 505 | 513 | undefined;
  /** What could be read of a request, to answer it. */
  request?: { method: string; uri: string; headers: Header[] };
}

export type ParseResult = { ok: true; message: AnyMessage } | { ok: false; error: SipParseError };

const EMPTY_BODY = Buffer.alloc(0);

/** @default 65535 bytes */
export const DEFAULT_MAX_MESSAGE = 65_535;

const SINGLE = ["from", "to", "call-id", "cseq", "max-forwards", "content-length", "content-type", "expires", "min-expires"];

function failure(reason: string, status: SipParseError["status"], request?: SipParseError["request"]): ParseResult {
  return { ok: false, error: request ? { reason, status, request } : { reason, status } };
}

/** Index just after the blank line ending the header section, and where that blank line starts. */
export function findHeaderEnd(buf: Buffer, from = 0): { headEnd: number; bodyStart: number } | undefined {
  const crlf = buf.indexOf("\r\n\r\n", from, "latin1");
  // A bare "\n\n" only matters when it comes before the first CRLFCRLF (or there is none).
  const lf = crlf >= 0 ? buf.subarray(0, crlf + 2).indexOf("\n\n", from, "latin1") : buf.indexOf("\n\n", from, "latin1");
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
  /** Caps on header lines and list entries. @default DEFAULT_MESSAGE_LIMITS */
  limits?: Readonly<MessageLimits>;
}

/** Where the headers a server checks are, gathered in one pass over the header lines. */
interface Found {
  via: Header | undefined;
  from: Header | undefined;
  to: Header | undefined;
  callId: Header | undefined;
  cseq: Header | undefined;
  maxForwards: Header | undefined;
  expires: Header | undefined;
  contentLength: Header | undefined;
  /** The first single-valued header seen twice. */
  duplicate: string | undefined;
  seen: Set<string> | undefined;
  limits: Readonly<MessageLimits>;
  /** Entries of the counted list headers so far (plain number fields: this is the hot path). */
  nVia: number;
  nRoute: number;
  nRecordRoute: number;
  nContact: number;
  nPath: number;
  /** Set when a cap was passed: the message is refused with 513. */
  tooLarge: boolean;
  /** After a cap: which of From, To, Call-ID, CSeq the answer already has. */
  answerKeys: Set<string> | undefined;
}

const SINGLE_SET = new Set(SINGLE);

/** Read the header line text[from, to) into `headers`; a reason when it is malformed. */
function addHeader(text: string, from: number, to: number, headers: Header[], found: Found): string | undefined {
  const colon = text.indexOf(":", from);
  let nameEnd = colon < 0 || colon >= to ? from : colon;
  while (nameEnd > from && (text.charCodeAt(nameEnd - 1) === 32 || text.charCodeAt(nameEnd - 1) === 9)) nameEnd--;
  const name = text.slice(from, nameEnd);
  const key = wireHeaderKey(name, isToken);
  if (key === undefined) return `malformed header line "${text.slice(from, Math.min(to, from + 40))}"`;
  const h: Header = { name, key, value: text.slice(colon + 1, to).trim() };
  if (headers.length >= found.limits.maxHeaders) return overCap(found, `more than ${found.limits.maxHeaders} header lines`);
  switch (key) {
    case "via":
      if ((found.nVia += countEntries(h.value)) > found.limits.maxVia) return overCap(found, `more than ${found.limits.maxVia} Via entries`);
      headers.push(h);
      found.via ??= h;
      return undefined;
    case "route":
      if ((found.nRoute += countEntries(h.value)) > found.limits.maxRoute) return overCap(found, `more than ${found.limits.maxRoute} Route entries`);
      break;
    case "record-route":
      if ((found.nRecordRoute += countEntries(h.value)) > found.limits.maxRecordRoute) return overCap(found, `more than ${found.limits.maxRecordRoute} Record-Route entries`);
      break;
    case "contact":
      if ((found.nContact += countEntries(h.value)) > found.limits.maxContact) return overCap(found, `more than ${found.limits.maxContact} Contact entries`);
      break;
    case "path":
      if ((found.nPath += countEntries(h.value)) > found.limits.maxPath) return overCap(found, `more than ${found.limits.maxPath} Path entries`);
      break;
    case "from":
      found.from ??= h;
      break;
    case "to":
      found.to ??= h;
      break;
    case "call-id":
      found.callId ??= h;
      break;
    case "cseq":
      found.cseq ??= h;
      break;
    case "max-forwards":
      found.maxForwards ??= h;
      break;
    case "expires":
      found.expires ??= h;
      break;
    case "content-length":
      found.contentLength ??= h;
      break;
  }
  headers.push(h);
  if (found.duplicate === undefined && SINGLE_SET.has(h.key)) {
    found.seen ??= new Set();
    if (found.seen.has(h.key)) found.duplicate = h.key;
    else found.seen.add(h.key);
  }
  return undefined;
}

/** The headers a response copies from its request (RFC 3261 8.2.6.2). */
const ANSWER_KEYS = new Set(["from", "to", "call-id", "cseq"]);

/**
 * After a cap was passed, keep only the first From, To, Call-ID and CSeq of
 * the remaining lines (one cheap look at each), so that the 513 can be
 * matched to its request by the client.
 */
function salvage(text: string, from: number, to: number, headers: Header[], found: Found): void {
  const colon = text.indexOf(":", from);
  if (colon < 0 || colon >= to || colon - from > 16) return;
  const key = headerKey(text.slice(from, colon).trim());
  if (!ANSWER_KEYS.has(key)) return;
  found.answerKeys ??= new Set(headers.filter((h) => ANSWER_KEYS.has(h.key)).map((h) => h.key));
  if (found.answerKeys.has(key)) return;
  found.answerKeys.add(key);
  headers.push({ name: text.slice(from, colon).trim(), key, value: text.slice(colon + 1, to).trim() });
}

/** {@link salvage} every line of `text` from `pos` on. */
function salvageRest(text: string, pos: number, headers: Header[], found: Found): void {
  while (pos < text.length) {
    let next = text.indexOf("\n", pos);
    if (next < 0) next = text.length;
    const lineEnd = text.charCodeAt(next - 1) === 13 ? next - 1 : next;
    if (lineEnd > pos) salvage(text, pos, lineEnd, headers, found);
    pos = next + 1;
  }
}

function overCap(found: Found, reason: string): string {
  found.tooLarge = true;
  return reason;
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
  const headers: Header[] = [];
  const found: Found = { via: undefined, from: undefined, to: undefined, callId: undefined, cseq: undefined, maxForwards: undefined, expires: undefined, contentLength: undefined, duplicate: undefined, seen: undefined, limits: opts.limits ?? DEFAULT_MESSAGE_LIMITS, nVia: 0, nRoute: 0, nRecordRoute: 0, nContact: 0, nPath: 0, tooLarge: false, answerKeys: undefined };
  let startLine: string;
  let problem: string | undefined;
  if (head.indexOf("\n ") < 0 && head.indexOf("\n\t") < 0 && head.charCodeAt(0) !== 32 && head.charCodeAt(0) !== 9) {
    // No folding: header lines are read straight from the text.
    let nl = head.indexOf("\n");
    if (nl < 0) nl = head.length;
    startLine = head.slice(0, head.charCodeAt(nl - 1) === 13 ? nl - 1 : nl);
    let pos = nl + 1;
    while (pos < head.length) {
      let next = head.indexOf("\n", pos);
      if (next < 0) next = head.length;
      const lineEnd = head.charCodeAt(next - 1) === 13 ? next - 1 : next;
      if (lineEnd > pos) {
        problem = addHeader(head, pos, lineEnd, headers, found);
        if (problem) {
          if (found.tooLarge) salvageRest(head, next + 1, headers, found);
          break;
        }
      }
      pos = next + 1;
    }
  } else {
    const all = lines(head);
    if (!all || all.length === 0) return failure("malformed line folding", 400);
    startLine = all[0]!;
    for (let i = 1; i < all.length && !(problem && !found.tooLarge); i++) {
      if (problem) salvage(all[i]!, 0, all[i]!.length, headers, found);
      else problem = addHeader(all[i]!, 0, all[i]!.length, headers, found);
    }
  }
  if (problem) return startFailure(startLine, headers, problem, found.tooLarge ? 513 : 400);

  let body = buf.subarray(bodyStart);
  const cl = found.contentLength;
  if (cl) {
    const n = parseUInt(cl.value);
    if (n === undefined) return startFailure(startLine, headers, "invalid Content-Length");
    if (n > body.length) return startFailure(startLine, headers, `Content-Length ${n} larger than the ${body.length}-byte body`);
    if (n < body.length) body = body.subarray(0, n);
  } else if (opts.stream) {
    return startFailure(startLine, headers, "Content-Length is required on stream transports");
  }
  // No body: a shared empty buffer, so that the message does not keep its datagram alive.
  if (body.length === 0) body = EMPTY_BODY;

  if (startLine.startsWith("SIP/")) return parseResponse(startLine, headers, found, body);
  return parseRequest(startLine, headers, found, body);
}

function startFailure(startLine: string, headers: Header[], reason: string, status: 400 | 513 = 400): ParseResult {
  const m = /^([A-Za-z0-9\-.!%*_+`'~]+) (\S+) SIP\/2\.0$/i.exec(startLine);
  return failure(reason, m ? status : undefined, m ? { method: m[1]!, uri: m[2]!, headers } : undefined);
}

interface Checked {
  via: Via | undefined;
  from: NameAddr;
  to: NameAddr;
}

/** The checks common to requests and responses; the parsed values, or the reason they fail. */
function common(found: Found): Checked | string {
  if (found.duplicate !== undefined) return `more than one ${found.duplicate} header`;
  if (!found.via) return "missing via header";
  if (!found.from) return "missing from header";
  if (!found.to) return "missing to header";
  if (!found.callId) return "missing call-id header";
  if (!found.cseq) return "missing cseq header";
  const viaValue = found.via.value;
  const comma = viaValue.indexOf(",");
  const topVia = parseVia(comma < 0 ? viaValue : viaValue.slice(0, comma));
  if (!topVia.ok) return topVia.reason;
  const callId = found.callId.value;
  if (callId.length === 0 || /\s/.test(callId)) return "invalid Call-ID";
  const from = parseNameAddr(found.from.value);
  if (!from.ok) return `invalid from header: ${from.reason}`;
  const to = parseNameAddr(found.to.value);
  if (!to.ok) return `invalid to header: ${to.reason}`;
  if (found.maxForwards && parseUInt(found.maxForwards.value, 255) === undefined) return "invalid Max-Forwards";
  if (found.expires && parseUInt(found.expires.value) === undefined) return "invalid Expires";
  // With several Via elements in the line, the accessor finds the top one itself (quotes may hide commas).
  return { via: comma < 0 ? topVia.value : undefined, from: from.value, to: to.value };
}

function parseRequest(startLine: string, headers: Header[], found: Found, body: Buffer): ParseResult {
  const parts = startLine.split(" ");
  if (parts.length !== 3) {
    const answerable = parts.length >= 3 && isToken(parts[0]!) && /SIP\/2\.0\s*$/i.test(startLine);
    return failure("malformed request line (Method SP Request-URI SP SIP-Version)", answerable ? 400 : undefined, answerable ? { method: parts[0]!, uri: parts.filter(Boolean)[1] ?? "", headers } : undefined);
  }
  const [method, uri, version] = parts as [string, string, string];
  if (!isToken(method)) return failure(`invalid method "${method.slice(0, 20)}"`, undefined);
  const request = { method, uri, headers };
  if (version !== "SIP/2.0") {
    if (!/^SIP\/\d+\.\d+$/i.test(version)) return failure(`malformed SIP version "${version.slice(0, 20)}"`, 400, request);
    if (version.toUpperCase() !== "SIP/2.0") return failure(`SIP version ${version} not supported`, 505, request);
  }
  const checked = common(found);
  if (typeof checked === "string") return failure(checked, 400, request);
  const ruri = parseUri(uri);
  if (!ruri.ok) return failure(`invalid Request-URI: ${ruri.reason}`, 400, request);
  if (ruri.uri.kind === "sip" && ruri.uri.headers !== undefined) return failure("the Request-URI must not contain headers (RFC 3261 19.1.5)", 400, request);
  const cseq = parseCSeq(found.cseq!.value);
  if (!cseq.ok) return failure(cseq.reason, 400, request);
  if (cseq.value.method !== method) return failure(`CSeq method ${cseq.value.method} does not match ${method}`, 400, request);
  const message = new SipRequest(method, uri, headers, body);
  message.prime(checked.via, checked.from, checked.to, cseq.value);
  return { ok: true, message };
}

function parseResponse(startLine: string, headers: Header[], found: Found, body: Buffer): ParseResult {
  const m = /^SIP\/2\.0 (\d{3})(?: (.*))?$/i.exec(startLine);
  if (!m) return failure("malformed status line", undefined);
  const status = Number(m[1]);
  if (status < 100 || status > 699) return failure(`status ${status} out of range`, undefined);
  const checked = common(found);
  if (typeof checked === "string") return failure(checked, undefined);
  const cseq = parseCSeq(found.cseq!.value);
  if (!cseq.ok) return failure("malformed CSeq", undefined);
  const message = new SipResponse(status, m[2] ?? "", headers, body);
  message.prime(checked.via, checked.from, checked.to, cseq.value);
  return { ok: true, message };
}
