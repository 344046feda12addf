/**
 * SIP and SIPS URIs (RFC 3261 19.1), parsed into parts. Other absolute URIs
 * (tel:, urn:, http:) are kept as opaque text with their scheme.
 */
import { formatParams, parseParams, type Params } from "./grammar.js";

export interface SipUri {
  readonly kind: "sip";
  scheme: "sip" | "sips";
  user: string | undefined;
  password: string | undefined;
  /** Host as written; IPv6 references keep their brackets. Lowercased. */
  host: string;
  port: number | undefined;
  params: Params;
  /** URI headers (`?a=b&c=d`), still escaped. */
  headers: string | undefined;
}

export interface OtherUri {
  readonly kind: "other";
  scheme: string;
  text: string;
}

export type Uri = SipUri | OtherUri;

export type UriResult = { ok: true; uri: Uri } | { ok: false; reason: string };

const HOST = /^(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9](?:[A-Za-z0-9\-.]*[A-Za-z0-9])?\.?|\d{1,3}(?:\.\d{1,3}){3})$/;
const USER = /^(?:[A-Za-z0-9\-_.!~*'()&=+$,;?/]|%[0-9A-Fa-f]{2})+$/;
const PASSWORD = /^(?:[A-Za-z0-9\-_.!~*'()&=+$,]|%[0-9A-Fa-f]{2})*$/;

/** "sip" or "sips" when the scheme is spelled so in lowercase (the common case), without allocating. */
function knownScheme(text: string, colon: number): string | undefined {
  if (colon === 3 && text.startsWith("sip")) return "sip";
  if (colon === 4 && text.startsWith("sips")) return "sips";
  return undefined;
}

/** Whitespace, <, > or " anywhere (the characters `\s` covers in a URI's ASCII range, plus the rest of it). */
function hasForbidden(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c <= 32 || c === 0x3c || c === 0x3e || c === 0x22 || c === 0x7f || c >= 0x80) {
      if (c >= 0x80 || c === 0x7f || c < 32 ? /[\s<>"]/.test(text[i]!) : true) return true;
    }
  }
  return false;
}

/**
 * The index of the ":" before a trailing port of 1 to 5 digits, as
 * `/^(.*?):(\d{1,5})$/` finds it (the first ":" followed by only digits), or -1.
 */
function portColon(hostport: string): number {
  let i = hostport.length;
  while (i > 0 && hostport.charCodeAt(i - 1) >= 48 && hostport.charCodeAt(i - 1) <= 57) i--;
  const digits = hostport.length - i;
  if (digits < 1 || digits > 5 || i === 0 || hostport.charCodeAt(i - 1) !== 58) return -1;
  return i - 1;
}

export function parseUri(text: string): UriResult {
  const colon = text.indexOf(":");
  if (colon < 1) return { ok: false, reason: `"${text.slice(0, 60)}" has no URI scheme` };
  const scheme = knownScheme(text, colon) ?? text.slice(0, colon).toLowerCase();
  if (!/^[a-z][a-z0-9+\-.]*$/.test(scheme)) return { ok: false, reason: `invalid URI scheme "${scheme.slice(0, 20)}"` };
  if (hasForbidden(text)) return { ok: false, reason: "whitespace or <>\" inside a URI" };
  if (scheme !== "sip" && scheme !== "sips") return { ok: true, uri: { kind: "other", scheme, text } };
  let rest = text.slice(colon + 1);
  let user: string | undefined;
  let password: string | undefined;
  // The user part may hold "?" and ";" (RFC 3261 25.1 user-unreserved), never an unescaped "@":
  // the first "@" ends the userinfo when what precedes it is a valid userinfo.
  const at = rest.indexOf("@");
  if (at >= 0) {
    const userinfo = rest.slice(0, at);
    const pc = userinfo.indexOf(":");
    const u = pc >= 0 ? userinfo.slice(0, pc) : userinfo;
    const p = pc >= 0 ? userinfo.slice(pc + 1) : undefined;
    if (USER.test(u) && (p === undefined || PASSWORD.test(p))) {
      user = u;
      password = p;
      rest = rest.slice(at + 1);
    } else if (!/[?]/.test(userinfo)) {
      return { ok: false, reason: `invalid user part in "${text.slice(0, 60)}"` };
    }
  }
  let headers: string | undefined;
  const q = rest.indexOf("?");
  if (q >= 0) {
    headers = rest.slice(q + 1);
    rest = rest.slice(0, q);
  }
  const semi = rest.indexOf(";");
  const hostport = semi >= 0 ? rest.slice(0, semi) : rest;
  const params = semi >= 0 ? parseParams(rest.slice(semi)) : new Map<string, string | null>();
  if (!params) return { ok: false, reason: `invalid URI parameters in "${text.slice(0, 60)}"` };
  let host = hostport;
  let port: number | undefined;
  const pc = portColon(hostport);
  if (pc >= 0 && !(hostport.startsWith("[") && !hostport.includes("]:"))) {
    host = hostport.slice(0, pc);
    port = Number(hostport.slice(pc + 1));
    if (port > 65535 || port === 0) return { ok: false, reason: `port ${port} out of range` };
  }
  if (!HOST.test(host)) return { ok: false, reason: `invalid host "${host.slice(0, 60)}"` };
  return { ok: true, uri: { kind: "sip", scheme, user, password, host: host.toLowerCase(), port, params, headers } };
}

export function formatUri(uri: Uri): string {
  if (uri.kind === "other") return uri.text;
  let s = `${uri.scheme}:`;
  if (uri.user !== undefined) s += uri.password !== undefined ? `${uri.user}:${uri.password}@` : `${uri.user}@`;
  s += uri.host;
  if (uri.port !== undefined) s += `:${uri.port}`;
  s += formatParams(uri.params);
  if (uri.headers !== undefined) s += `?${uri.headers}`;
  return s;
}

/** The `user@host` address-of-record of a SIP URI (user unescaped, host canonical: lowercase, no trailing dot). */
export function aorOf(uri: Uri): string | undefined {
  if (uri.kind !== "sip" || uri.user === undefined) return undefined;
  let user = uri.user;
  try {
    user = decodeURIComponent(user);
  } catch {
    // keep it escaped when it is not valid percent-encoding
  }
  return `${user}@${canonicalHost(uri.host)}`;
}

/**
 * A host name as compared with our domains and used in AORs: lowercase (the
 * parser lowercases already) and without the trailing dot of a fully
 * qualified name (`example.com.` is `example.com`, RFC 1034 3.1).
 */
export function canonicalHost(host: string): string {
  const h = host.toLowerCase();
  return h.length > 1 && h.endsWith(".") ? h.slice(0, -1) : h;
}
