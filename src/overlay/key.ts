/**
 * Ring keys are `user@domain`. Whatever form a request names a subscriber in
 * (`sip:Alice@Example.COM:5060;transport=tcp`, `"Alice" <sips:alice@example.com>`),
 * it is reduced to the same key: scheme, display name, brackets, port, URI
 * parameters and headers dropped; the host lowercased (RFC 3261 19.1.4: hosts
 * compare case-insensitively, users case-sensitively).
 */
export type KeyResult = { ok: true; key: string } | { ok: false; reason: string };

const MAX_KEY = 256;

export function normalizeKey(input: string): KeyResult {
  let s = input.trim();
  const lt = s.indexOf("<");
  if (lt >= 0) {
    const gt = s.indexOf(">", lt);
    if (gt < 0) return { ok: false, reason: "unterminated <" };
    s = s.slice(lt + 1, gt).trim();
  }
  s = s.replace(/^(sips?|tel):/i, "");
  const cut = s.search(/[;?]/);
  if (cut >= 0) s = s.slice(0, cut);
  const at = s.lastIndexOf("@");
  if (at < 0) return { ok: false, reason: `"${input.slice(0, 64)}" is not user@domain` };
  const user = s.slice(0, at);
  let host = s.slice(at + 1);
  if (host.startsWith("[")) {
    const end = host.indexOf("]");
    if (end < 0) return { ok: false, reason: "unterminated IPv6 reference" };
    host = host.slice(0, end + 1);
  } else {
    const colon = host.indexOf(":");
    if (colon >= 0) host = host.slice(0, colon);
  }
  if (user.length === 0) return { ok: false, reason: "empty user" };
  if (host.length === 0) return { ok: false, reason: "empty domain" };
  if (/[\s\x00-\x1f\x7f]/.test(user) || /[\s\x00-\x1f\x7f@]/.test(host)) return { ok: false, reason: "whitespace or control character in key" };
  const key = `${user}@${host.toLowerCase()}`;
  if (key.length > MAX_KEY) return { ok: false, reason: `key longer than ${MAX_KEY} characters` };
  return { ok: true, key };
}
