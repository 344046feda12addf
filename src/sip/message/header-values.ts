/**
 * Parsers of the structured header values a proxy and registrar need:
 * name-addr / addr-spec (From, To, Contact, Route, Record-Route), Via,
 * CSeq. Each returns a result union and never throws.
 */
import { collapseLws, formatParams, parseParams, quote, splitTopLevel, unquote, type Params } from "./grammar.js";
import { formatUri, parseUri, type Uri } from "./uri.js";

export type Result<T> = { ok: true; value: T } | { ok: false; reason: string };

const fail = <T>(reason: string): Result<T> => ({ ok: false, reason });

export interface NameAddr {
  displayName: string | undefined;
  uri: Uri;
  params: Params;
  /** True when the URI was written in <angle brackets>. */
  angle: boolean;
}

/** `"Display" <sip:u@h;uparam>;tag=x` or `sip:u@h;tag=x` (then ;params belong to the header). */
export function parseNameAddr(value: string): Result<NameAddr> {
  const v = value.trim();
  if (v === "*") return fail("* is not an address");
  const lt = findAngle(v);
  if (lt >= 0) {
    const gt = v.indexOf(">", lt);
    if (gt < 0) return fail("unterminated <");
    let display = v.slice(0, lt).trim();
    if (display.startsWith('"')) {
      const unq = unquote(display);
      if (unq === undefined) return fail("malformed quoted display name");
      display = unq;
    } else if (display.length > 0 && !/^[A-Za-z0-9\-.!%*_+`'~ \t]+$/.test(display)) {
      return fail("display name must be tokens or a quoted string");
    }
    const uriText = v.slice(lt + 1, gt);
    if (uriText !== uriText.trim()) return fail("whitespace inside <>");
    const uri = parseUri(uriText);
    if (!uri.ok) return fail(uri.reason);
    const rest = v.slice(gt + 1).trim();
    if (rest.length > 0 && !rest.startsWith(";")) return fail("unexpected text after >");
    const params = parseParams(rest);
    if (!params) return fail("malformed header parameters");
    return { ok: true, value: { displayName: display.length > 0 ? collapseLws(display) : undefined, uri: uri.uri, params, angle: true } };
  }
  // addr-spec: URI parameters cannot be told from header parameters; RFC 3261 20.10 says they are header parameters.
  const semi = v.indexOf(";");
  const uriText = semi >= 0 ? v.slice(0, semi).trim() : v;
  if (/\s/.test(uriText)) return fail("whitespace inside an address without <>");
  const uri = parseUri(uriText);
  if (!uri.ok) return fail(uri.reason);
  if (uri.uri.kind === "sip" && uri.uri.headers !== undefined) return fail("URI with headers must be in <>");
  const params = semi >= 0 ? parseParams(v.slice(semi)) : new Map<string, string | null>();
  if (!params) return fail("malformed header parameters");
  return { ok: true, value: { displayName: undefined, uri: uri.uri, params, angle: false } };
}

/** Index of the `<` that opens the URI, skipping a quoted display name. */
function findAngle(v: string): number {
  let inQuote = false;
  for (let i = 0; i < v.length; i++) {
    const c = v[i];
    if (inQuote) {
      if (c === "\\") i++;
      else if (c === '"') inQuote = false;
    } else if (c === '"') inQuote = true;
    else if (c === "<") return i;
  }
  return -1;
}

export function formatNameAddr(na: NameAddr): string {
  const display = na.displayName !== undefined ? `${quote(na.displayName)} ` : "";
  return `${display}<${formatUri(na.uri)}>${formatParams(na.params)}`;
}

/** Split a list header value into its elements (undefined if quotes/brackets are unbalanced). */
export function splitList(value: string): string[] | undefined {
  const parts = splitTopLevel(value, ",");
  return parts?.map((p) => p.trim()).filter((p) => p.length > 0);
}

export interface Via {
  protocol: string;
  version: string;
  transport: string;
  host: string;
  port: number | undefined;
  params: Params;
}

/** `SIP / 2.0 / UDP host:port;branch=z9hG4bK...;rport` (LWS allowed around the slashes). */
export function parseVia(value: string): Result<Via> {
  const m = /^\s*([A-Za-z0-9\-.!%*_+`'~]+)\s*\/\s*([A-Za-z0-9\-.!%*_+`'~]+)\s*\/\s*([A-Za-z0-9\-.!%*_+`'~]+)\s+([^;\s]+(?:\s*:\s*\d+)?)\s*(;.*)?$/s.exec(value);
  if (!m) return fail("malformed Via");
  const raw = m[4]!;
  const sentBy = /\s/.test(raw) ? raw.replace(/\s+/g, "") : raw;
  let host = sentBy;
  let port: number | undefined;
  const pm = /^(.*?):(\d{1,5})$/.exec(sentBy);
  if (pm && (!sentBy.startsWith("[") || sentBy.includes("]:"))) {
    host = pm[1]!;
    port = Number(pm[2]);
    if (port > 65535 || port === 0) return fail("Via port out of range");
  }
  if (!/^(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9](?:[A-Za-z0-9\-.]*[A-Za-z0-9])?\.?)$/.test(host)) return fail(`invalid Via host "${host.slice(0, 60)}"`);
  const params = parseParams(m[5] ?? "");
  if (!params) return fail("malformed Via parameters");
  // RFC 3581 / RFC 3261 18.2.2: rport and received say where responses go; check them now, not at send time.
  const rport = params.get("rport");
  if (rport !== undefined && rport !== null && !isPort(rport)) return fail("Via rport out of range");
  const received = params.get("received");
  if (received !== undefined && (received === null || !isIpAddress(received))) return fail("Via received is not an IP address");
  return { ok: true, value: { protocol: m[1]!.toUpperCase(), version: m[2]!, transport: m[3]!.toUpperCase(), host: host.toLowerCase(), port, params } };
}

/** A port number 1..65535 written as 1 to 5 digits. */
export function isPort(text: string): boolean {
  if (!/^\d{1,5}$/.test(text)) return false;
  const n = Number(text);
  return n >= 1 && n <= 65535;
}

const IPV4 = /^(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$/;

/** An IPv4 address in dotted decimal, or an IPv6 address (bracketed or not). */
export function isIpAddress(text: string): boolean {
  if (IPV4.test(text)) return true;
  const v6 = text.startsWith("[") && text.endsWith("]") ? text.slice(1, -1) : text;
  if (!/^[0-9A-Fa-f:.]{2,45}$/.test(v6) || v6.indexOf(":") < 0) return false;
  const groups = v6.split("::");
  if (groups.length > 2) return false;
  const parts = groups.flatMap((g) => (g === "" ? [] : g.split(":")));
  const last = parts[parts.length - 1] ?? "";
  const tail = last.includes(".") ? (IPV4.test(last) ? 2 : -1) : 0;
  if (tail < 0) return false;
  const hex = tail > 0 ? parts.slice(0, -1) : parts;
  if (!hex.every((h) => /^[0-9A-Fa-f]{1,4}$/.test(h))) return false;
  const total = hex.length + tail;
  return groups.length === 2 ? total < 8 : total === 8;
}

export function formatVia(via: Via): string {
  return `${via.protocol}/${via.version}/${via.transport} ${via.host}${via.port !== undefined ? `:${via.port}` : ""}${formatParams(via.params)}`;
}

export interface CSeq {
  seq: number;
  method: string;
}

export function parseCSeq(value: string): Result<CSeq> {
  const m = /^\s*(\d{1,10})\s+([A-Za-z0-9\-.!%*_+`'~]+)\s*$/.exec(value);
  if (!m) return fail("malformed CSeq");
  const seq = Number(m[1]);
  if (seq > 2 ** 31 - 1) return fail("CSeq number larger than 2**31-1");
  return { ok: true, value: { seq, method: m[2]! } };
}

/** A non-negative integer header (Content-Length, Max-Forwards, Expires). */
export function parseUInt(value: string, max = 2 ** 32 - 1): number | undefined {
  // Plain digits (the common case) without a regular expression.
  if (value.length > 0 && value.length <= 10) {
    let n = 0;
    for (let i = 0; i < value.length; i++) {
      const c = value.charCodeAt(i) - 48;
      if (c < 0 || c > 9) return parseUIntSlow(value, max);
      n = n * 10 + c;
    }
    return n <= max ? n : undefined;
  }
  return parseUIntSlow(value, max);
}

function parseUIntSlow(value: string, max: number): number | undefined {
  const m = /^\s*(\d{1,10})\s*$/.exec(value);
  if (!m) return undefined;
  const n = Number(m[1]);
  return n <= max ? n : undefined;
}
