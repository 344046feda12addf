/**
 * Lexical helpers of the RFC 3261 grammar (section 25): tokens, quoted
 * strings, LWS, and splitting of comma-separated header values and
 * semicolon-separated parameters while honouring quotes and angle brackets.
 * Pure string functions; they never throw.
 */

/** token characters: alphanum / "-" / "." / "!" / "%" / "*" / "_" / "+" / "`" / "'" / "~" */
const TOKEN = /^[A-Za-z0-9\-.!%*_+`'~]+$/;

export function isToken(s: string): boolean {
  return TOKEN.test(s);
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
  const parts = splitTopLevel(text.startsWith(";") ? text.slice(1) : text, ";");
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
    if (value.startsWith('"')) {
      const unq = unquote(value);
      if (unq === undefined) return undefined;
      value = unq;
    } else if (!/^[A-Za-z0-9\-.!%*_+`'~:[\]]+$/.test(value)) return undefined;
    params.set(name.toLowerCase(), value);
  }
  return params;
}

export function formatParams(params: Params): string {
  let out = "";
  for (const [k, v] of params) out += v === null ? `;${k}` : `;${k}=${/^[A-Za-z0-9\-.!%*_+`'~:[\]]+$/.test(v) ? v : quote(v)}`;
  return out;
}

/** Collapse LWS (folding already removed) into single spaces and trim. */
export function collapseLws(s: string): string {
  return s.replace(/[ \t]+/g, " ").trim();
}
