/**
 * Ring keys are `user@domain`. Whatever form a request names a subscriber in
 * (`sip:Alice@Example.COM:5060;transport=tcp`, `"Alice" <sips:alice@example.com>`),
 * it is reduced to the same key so that every member hashes the same string:
 *
 * - surrounding whitespace, the display name (quoted or not) and the angle
 *   brackets are dropped;
 * - the scheme `sip:`, `sips:` or `tel:` (any case) is dropped;
 * - the user part ends at the first `@` (RFC 3261 forbids a raw `@` in the
 *   userinfo); a `:password` in it is dropped; the user keeps its case and any
 *   `;` it contains (user parameters are part of the user, RFC 3261 19.1.4);
 * - after the host, the port, the URI parameters (`;...`) and the headers
 *   (`?...`) are dropped; the host is lowercased (hosts compare
 *   case-insensitively); IPv6 references keep their brackets.
 *
 * Refused, with a reason: no `@`, an empty user or host, whitespace or
 * control characters, a malformed port or IPv6 reference, keys longer than
 * {@link MAX_KEY_LENGTH}. Never throws.
 */
export type KeyResult = { ok: true; key: string } | { ok: false; reason: string };

/** Longest normalized key, in UTF-16 code units. */
export const MAX_KEY_LENGTH = 256;

const SCHEME = /^(?:sips?|tel):/i;
const BAD_USER = /[\s\x00-\x1f\x7f<>"]/;
const BAD_HOST = /[\s\x00-\x1f\x7f@<>"\\/[\]]/;
const IPV6_REF = /^\[[0-9a-fA-F:.]+\]$/;
const PORT = /^[0-9]{1,5}$/;
/** Already a normalized key, in the common shape: skip the general parse (same result, tested). */
const SIMPLE_KEY = /^[A-Za-z0-9._+\-!$&'()*,=~%/]+@[a-z0-9._-]+$/;

function refuse(reason: string): KeyResult {
  return { ok: false, reason };
}

/** A short, printable rendering of untrusted input for error reasons. */
function show(input: string): string {
  return JSON.stringify(input.length > 64 ? `${input.slice(0, 64)}...` : input).replace(/[^\x20-\x7e]/g, "?");
}

/** Drop a leading quoted display name (`"Alice \"A\"" <...>`); undefined when unterminated. */
function dropQuotedName(s: string): string | undefined {
  for (let i = 1; i < s.length; i++) {
    const c = s[i];
    if (c === "\\") i++;
    else if (c === '"') return s.slice(i + 1).trimStart();
  }
  return undefined;
}

export function normalizeKey(input: string): KeyResult {
  if (input.length <= MAX_KEY_LENGTH && SIMPLE_KEY.test(input)) return { ok: true, key: input };
  return normalizeGeneral(input);
}

/** The general parse (a leading space forces it: the tests check both paths agree). */
function normalizeGeneral(input: string): KeyResult {
  let s = input.trim();
  if (s.startsWith('"')) {
    const rest = dropQuotedName(s);
    if (rest === undefined) return refuse("unterminated quoted display name");
    if (!rest.startsWith("<")) return refuse("expected <uri> after the display name");
    s = rest;
  }
  const lt = s.indexOf("<");
  if (lt >= 0) {
    const gt = s.indexOf(">", lt);
    if (gt < 0) return refuse("unterminated <");
    s = s.slice(lt + 1, gt).trim();
  } else if (s.includes(">")) {
    return refuse("unexpected >");
  }
  s = s.replace(SCHEME, "");

  const at = s.indexOf("@");
  if (at < 0) return refuse(`${show(input)} is not user@domain`);
  let user = s.slice(0, at);
  const colon = user.indexOf(":");
  if (colon >= 0) user = user.slice(0, colon);

  let hostport = s.slice(at + 1);
  const cut = hostport.search(/[;?]/);
  if (cut >= 0) hostport = hostport.slice(0, cut);
  let host: string;
  let port = "";
  if (hostport.startsWith("[")) {
    const end = hostport.indexOf("]");
    if (end < 0) return refuse("unterminated IPv6 reference");
    host = hostport.slice(0, end + 1);
    const after = hostport.slice(end + 1);
    if (after.length > 0) {
      if (!after.startsWith(":")) return refuse("unexpected characters after the IPv6 reference");
      port = after.slice(1);
    }
    if (!IPV6_REF.test(host)) return refuse("invalid IPv6 reference");
  } else {
    const pc = hostport.indexOf(":");
    host = pc >= 0 ? hostport.slice(0, pc) : hostport;
    port = pc >= 0 ? hostport.slice(pc + 1) : "";
    if (pc >= 0 && port.length === 0) return refuse("empty port");
  }
  if (port.length > 0 && (!PORT.test(port) || Number(port) > 65535)) return refuse(`invalid port ${show(port)}`);

  if (user.length === 0) return refuse("empty user");
  if (host.length === 0) return refuse("empty domain");
  if (BAD_USER.test(user)) return refuse("whitespace, control character, quote or bracket in the user part");
  if (BAD_HOST.test(host) && !IPV6_REF.test(host)) return refuse("invalid character in the domain");
  const key = `${user}@${host.toLowerCase()}`;
  if (key.length > MAX_KEY_LENGTH) return refuse(`key longer than ${MAX_KEY_LENGTH} characters`);
  return { ok: true, key };
}
