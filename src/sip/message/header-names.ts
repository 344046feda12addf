/**
 * Header names: compact forms (RFC 3261 7.3.3 and later RFCs), the canonical
 * spelling used when we write a header, and which headers are
 * comma-separated lists (RFC 3261 7.3.1) and may be split.
 */

const COMPACT: Record<string, string> = {
  i: "call-id",
  m: "contact",
  e: "content-encoding",
  l: "content-length",
  c: "content-type",
  f: "from",
  s: "subject",
  k: "supported",
  t: "to",
  v: "via",
  o: "event",
  r: "refer-to",
  b: "referred-by",
  u: "allow-events",
  x: "session-expires",
  a: "accept-contact",
  j: "reject-contact",
  d: "request-disposition",
  y: "identity",
  n: "identity-info",
};

const CANONICAL: Record<string, string> = {
  "call-id": "Call-ID",
  cseq: "CSeq",
  "www-authenticate": "WWW-Authenticate",
  "mime-version": "MIME-Version",
  "rack": "RAck",
  "rseq": "RSeq",
  "sip-etag": "SIP-ETag",
  "sip-if-match": "SIP-If-Match",
};

/** Headers whose value is a comma-separated list (so several lines may be combined). */
const LIST = new Set([
  "via",
  "contact",
  "route",
  "record-route",
  "path",
  "service-route",
  "allow",
  "supported",
  "require",
  "proxy-require",
  "unsupported",
  "accept",
  "accept-encoding",
  "accept-language",
  "allow-events",
  "content-encoding",
  "content-language",
  "in-reply-to",
  "warning",
  "alert-info",
  "call-info",
  "error-info",
  "reply-to",
]);

/** Names seen on the wire → their key (bounded: a flood of odd names cannot grow it forever). */
const keys = new Map<string, string>();
const canonical = new Map<string, string>();
const CACHE_LIMIT = 4096;

function remember(cache: Map<string, string>, name: string, value: string): string {
  if (cache.size >= CACHE_LIMIT) cache.clear();
  cache.set(name, value);
  return value;
}

/** The lowercase long form of a header name (`v` → `via`, `Call-Id` → `call-id`). */
export function headerKey(name: string): string {
  const known = keys.get(name);
  if (known !== undefined) return known;
  const lower = name.toLowerCase();
  return remember(keys, name, Object.hasOwn(COMPACT, lower) ? COMPACT[lower]! : lower);
}

/**
 * The key of a header name read from the wire, or undefined when the name
 * is not a token. Names seen before are answered from the cache.
 */
export function wireHeaderKey(name: string, isToken: (s: string) => boolean): string | undefined {
  const known = keys.get(name);
  if (known !== undefined) return known;
  return isToken(name) ? headerKey(name) : undefined;
}

/** How we spell a header we write: `call-id` → `Call-ID`, `record-route` → `Record-Route`. */
export function canonicalName(key: string): string {
  const known = canonical.get(key);
  if (known !== undefined) return known;
  return remember(canonical, key, Object.hasOwn(CANONICAL, key) ? CANONICAL[key]! : key.replace(/(^|-)([a-z])/g, (_, dash: string, c: string) => dash + c.toUpperCase()));
}

export function isListHeader(key: string): boolean {
  return LIST.has(key);
}
