/**
 * Lexical helpers of the RFC 3261 grammar (section 25): tokens, quoted
 * strings, LWS, and splitting of comma-separated header values and
 * semicolon-separated parameters while honouring quotes and angle brackets.
 * Pure string functions; they never throw.
 */

/** token characters: alphanum / "-" / "." / "!" / "%" / "*" / "_" / "+" / "`" / "'" / "~" */
const TOKEN_CHARS = new Uint8Array(128);
for (const c of "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-.!%*_+`'~") TOKEN_CHARS[c.charCodeAt(0)] = 1;
/** Unquoted parameter values: token characters plus ":" "[" "]" (IPv6 references, received=). */
const VALUE_CHARS = TOKEN_CHARS.slice();
for (const c of ":[]") VALUE_CHARS[c.charCodeAt(0)] = 1;

function allOf(table: Uint8Array, s: string): boolean {
  if (s.length === 0) return false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 128 || table[c] === 0) return false;
  }
  return true;
}

export function isToken(s: string): boolean {
  return allOf(TOKEN_CHARS, s);
}

/** Whether `s` may be written as an unquoted parameter value. */
export function isParamValue(s: string): boolean {
  return allOf(VALUE_CHARS, s);
}

/**
 * Split `s` at every top-level `sep` (outside "quoted strings" and <angle
 * brackets>). Returns undefined when quotes or brackets are unbalanced.
 */
export function splitTopLevel(s: string, sep: string): string[] | undefined {
  const out: string[] = [];
  let start = 0;
  let inQuote = false;
  let angle = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (inQuote) {
      if (c === 0x5c /* \ */) i++;
      else if (c === 0x22 /* " */) inQuote = false;
      continue;
    }
    if (c === 0x22) inQuote = true;
    else if (c === 0x3c /* < */) angle++;
    else if (c === 0x3e /* > */) {
      if (angle === 0) return undefined;
      angle--;
    } else if (angle === 0 && s[i] === sep) {
      out.push(s.slice(start, i));
      start = i + 1;
    }
  }
  if (inQuote || angle !== 0) return undefined;
  out.push(s.slice(start));
  return out;
}

/** Unquote a quoted-string (`"a \"b\""` → `a "b"`); undefined if malformed. */
export function unquote(s: string): string | undefined {
  if (s.length < 2 || s[0] !== '"' || s[s.length - 1] !== '"') return undefined;
  const inner = s.slice(1, -1);
  if (inner.indexOf("\\") < 0) return inner.indexOf('"') < 0 ? inner : undefined;
  let out = "";
  for (let i = 1; i < s.length - 1; i++) {
    const c = s[i]!;
    if (c === "\\") {
      if (i + 1 >= s.length - 1) return undefined;
      out += s[++i];
    } else if (c === '"') return undefined;
    else out += c;
  }
  return out;
}

/** Quote a string for a quoted-string position. */
export function quote(s: string): string {
  return `"${s.replace(/(["\\])/g, "\\$1")}"`;
}

export type Params = Map<string, string | null>;

/**
 * Parse `;name=value;flag` generic-params (leading `;` optional). Names are
 * lowercased; values keep their case (quoted values are unquoted). Undefined
 * when a parameter is malformed.
 */
export function parseParams(s: string): Params | undefined {
  const params: Params = new Map();
  const text = s.trim();
  if (text.length === 0) return params;
  const inner = text.charCodeAt(0) === 0x3b /* ; */ ? text.slice(1) : text;
  // Without quotes or brackets, splitting at top level is a plain split.
  const plain = inner.indexOf('"') < 0 && inner.indexOf("<") < 0 && inner.indexOf(">") < 0;
  const parts = plain ? inner.split(";") : splitTopLevel(inner, ";");
  if (!parts) return undefined;
  for (const raw of parts) {
    const part = raw.trim();
    if (part.length === 0) return undefined;
    const eq = part.indexOf("=");
    if (eq < 0) {
      if (!isToken(part)) return undefined;
      params.set(part.toLowerCase(), null);
      continue;
    }
    const name = part.slice(0, eq).trim();
    let value = part.slice(eq + 1).trim();
    if (!isToken(name) || value.length === 0) return undefined;
    if (value.charCodeAt(0) === 0x22 /* " */) {
      const unq = unquote(value);
      if (unq === undefined) return undefined;
      value = unq;
    } else if (!isParamValue(value)) return undefined;
    params.set(name.toLowerCase(), value);
  }
  return params;
}

export function formatParams(params: Params): string {
  let out = "";
  for (const [k, v] of params) out += v === null ? `;${k}` : `;${k}=${isParamValue(v) ? v : quote(v)}`;
  return out;
}

/** Collapse LWS (folding already removed) into single spaces and trim. */
export function collapseLws(s: string): string {
  if (s.indexOf("\t") < 0 && s.indexOf("  ") < 0) return s.trim();
  return s.replace(/[ \t]+/g, " ").trim();
}

/**
 * A copy of `s` that does not keep the message it was cut from alive.
 * Header values are slices of the received message's text (no copy while
 * the message is handled); a value stored for minutes (a binding, a replay
 * record) would hold the whole message, and a value built by concatenation
 * (a URI, a flow id) is a tree of pieces of 32 bytes each. A JSON round
 * trip gives a new flat string of the value's own length, exactly equal
 * (about 70 bytes for a 40-character URI, against 100 for a slice of a
 * private copy and 250 for a concatenation; a Buffer round trip would leave
 * its bytes in Node's shared pool, next to the responses that linger 32 s).
 * V8 makes neither slices nor concatenations shorter than 13 characters, so
 * those are returned as they are.
 */
export function ownCopy(s: string): string {
  return s.length < 13 ? s : (JSON.parse(JSON.stringify(s)) as string);
}
