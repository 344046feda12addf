/**
 * Bencode (the encoding of rtpengine's ng control protocol): integers
 * `i42e`, byte strings `4:spam`, lists `l...e`, dictionaries `d...e` with
 * byte-string keys in sorted order. Sans-IO; `decodeBencode` never throws:
 * it returns the value or the reason and offset of the first error, and
 * bounds nesting depth and item count so that a hostile datagram costs
 * little.
 */
export type BValue = string | number | BValue[] | { [key: string]: BValue };

/** @default 32 */
export const MAX_BENCODE_DEPTH = 32;
/** @default 10000 items in one message */
export const MAX_BENCODE_ITEMS = 10_000;

export function encodeBencode(v: BValue): Buffer {
  const parts: Buffer[] = [];
  const walk = (x: BValue): void => {
    if (typeof x === "number") {
      parts.push(Buffer.from(`i${Math.trunc(x)}e`));
    } else if (typeof x === "string") {
      const b = Buffer.from(x, "utf8");
      parts.push(Buffer.from(`${b.length}:`), b);
    } else if (Array.isArray(x)) {
      parts.push(Buffer.from("l"));
      for (const e of x) walk(e);
      parts.push(Buffer.from("e"));
    } else {
      parts.push(Buffer.from("d"));
      for (const k of Object.keys(x).sort()) {
        walk(k);
        walk(x[k]!);
      }
      parts.push(Buffer.from("e"));
    }
  };
  walk(v);
  return Buffer.concat(parts);
}

export type BDecode = { ok: true; value: BValue; end: number } | { ok: false; reason: string; offset: number };

/** An error found while decoding (a class, so that no decoded value can be mistaken for it). */
class BError {
  constructor(readonly reason: string) {}
}

export function decodeBencode(buf: Uint8Array, start = 0): BDecode {
  let pos = start;
  let items = 0;
  const fail = (reason: string): { ok: false; reason: string; offset: number } => ({ ok: false, reason, offset: pos });
  const digits = (stop: number): number | undefined => {
    const from = pos;
    if (buf[pos] === 0x2d) pos++;
    const first = pos;
    while (pos < buf.length && buf[pos]! >= 0x30 && buf[pos]! <= 0x39) pos++;
    if (pos === first || pos - from > 16 || buf[pos] !== stop) return undefined;
    return Number(Buffer.from(buf.subarray(from, pos)).toString("latin1"));
  };
  const value = (depth: number): BValue | BError => {
    if (++items > MAX_BENCODE_ITEMS) return new BError("too many items");
    if (depth > MAX_BENCODE_DEPTH) return new BError("nested too deep");
    const c = buf[pos];
    if (c === undefined) return new BError("truncated");
    if (c === 0x69) {
      pos++;
      const n = digits(0x65);
      if (n === undefined) return new BError("bad integer");
      pos++;
      return n;
    }
    if (c === 0x6c || c === 0x64) {
      pos++;
      const list: BValue[] = [];
      const dict: { [k: string]: BValue } = {};
      while (buf[pos] !== 0x65) {
        if (pos >= buf.length) return new BError("truncated");
        if (c === 0x64) {
          const k = value(depth + 1);
          if (k instanceof BError) return k;
          if (typeof k !== "string") return new BError("dictionary key is not a string");
          const v = value(depth + 1);
          if (v instanceof BError) return v;
          // An own property even for "__proto__": a key never changes the object's prototype.
          Object.defineProperty(dict, k, { value: v, enumerable: true, writable: true, configurable: true });
        } else {
          const v = value(depth + 1);
          if (v instanceof BError) return v;
          list.push(v);
        }
      }
      pos++;
      return c === 0x64 ? dict : list;
    }
    const len = digits(0x3a);
    if (len === undefined || len < 0) return new BError("bad string length");
    pos++;
    if (pos + len > buf.length) return new BError("truncated string");
    const s = Buffer.from(buf.subarray(pos, pos + len)).toString("utf8");
    pos += len;
    return s;
  };
  const v = value(0);
  if (v instanceof BError) return fail(v.reason);
  return { ok: true, value: v, end: pos };
}
