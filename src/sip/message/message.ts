/**
 * SIP requests and responses as a proxy needs them: the header lines in
 * order, as received (name spelling and value text kept, folding removed),
 * with typed accessors that parse on first use, and the body as a slice of
 * the received bytes (never copied). Mutators edit the header list for the
 * proxy (push a Via, pop a Route, decrement Max-Forwards, ...).
 */
import { canonicalName, headerKey, isListHeader } from "./header-names.js";
import { parseCSeq, parseNameAddr, parseVia, splitList, type CSeq, type NameAddr, type Via } from "./header-values.js";

export interface Header {
  /** Name as written (e.g. `v`, `TO`); kept for untouched headers. */
  name: string;
  /** Lowercase long form (`via`, `to`). */
  key: string;
  /** Value with folding removed, trimmed. */
  value: string;
}

export abstract class SipMessage {
  private cache = new Map<string, unknown>();

  constructor(
    public headers: Header[],
    public body: Buffer,
  ) {}

  abstract readonly isRequest: boolean;

  /** First value of a header (the whole line for non-list headers). */
  get(key: string): string | undefined {
    const k = headerKey(key);
    for (const h of this.headers) if (h.key === k) return isListHeader(k) ? (splitList(h.value)?.[0] ?? h.value) : h.value;
    return undefined;
  }

  /** Every value of a header: list headers split at top-level commas, others one per line. */
  getAll(key: string): string[] {
    const k = headerKey(key);
    const out: string[] = [];
    for (const h of this.headers) {
      if (h.key !== k) continue;
      if (isListHeader(k)) out.push(...(splitList(h.value) ?? [h.value]));
      else out.push(h.value);
    }
    return out;
  }

  has(key: string): boolean {
    const k = headerKey(key);
    return this.headers.some((h) => h.key === k);
  }

  /** Replace every line of a header by one line with `value`. */
  set(key: string, value: string): void {
    const k = headerKey(key);
    const i = this.headers.findIndex((h) => h.key === k);
    this.headers = this.headers.filter((h) => h.key !== k);
    this.headers.splice(i < 0 ? this.headers.length : i, 0, { name: canonicalName(k), key: k, value });
    this.invalidate(k);
  }

  /** Add a header line before every other line of that header (e.g. a new top Via). */
  prepend(key: string, value: string): void {
    const k = headerKey(key);
    const i = this.headers.findIndex((h) => h.key === k);
    this.headers.splice(i < 0 ? this.headers.length : i, 0, { name: canonicalName(k), key: k, value });
    this.invalidate(k);
  }

  append(key: string, value: string): void {
    const k = headerKey(key);
    this.headers.push({ name: canonicalName(k), key: k, value });
    this.invalidate(k);
  }

  remove(key: string): void {
    const k = headerKey(key);
    this.headers = this.headers.filter((h) => h.key !== k);
    this.invalidate(k);
  }

  /** Remove the first element of a list header (top Via, first Route); returns it. */
  shift(key: string): string | undefined {
    const k = headerKey(key);
    const i = this.headers.findIndex((h) => h.key === k);
    if (i < 0) return undefined;
    const h = this.headers[i]!;
    const parts = splitList(h.value) ?? [h.value];
    const first = parts.shift();
    if (parts.length === 0) this.headers.splice(i, 1);
    else this.headers[i] = { ...h, value: parts.join(", ") };
    this.invalidate(k);
    return first;
  }

  get callId(): string {
    return this.get("call-id") ?? "";
  }

  get cseq(): CSeq {
    return this.cached("cseq", () => {
      const r = parseCSeq(this.get("cseq") ?? "");
      return r.ok ? r.value : { seq: 0, method: "" };
    });
  }

  get from(): NameAddr | undefined {
    return this.cached("from", () => parsed(parseNameAddr(this.get("from") ?? "")));
  }

  get to(): NameAddr | undefined {
    return this.cached("to", () => parsed(parseNameAddr(this.get("to") ?? "")));
  }

  /** The top Via (the one this hop's transaction matches on). */
  get via(): Via | undefined {
    return this.cached("via", () => parsed(parseVia(this.get("via") ?? "")));
  }

  get vias(): string[] {
    return this.getAll("via");
  }

  private cached<T>(key: string, make: () => T): T {
    if (this.cache.has(key)) return this.cache.get(key) as T;
    const v = make();
    this.cache.set(key, v);
    return v;
  }

  private invalidate(key: string): void {
    this.cache.delete(key);
  }
}

function parsed<T>(r: { ok: true; value: T } | { ok: false; reason: string }): T | undefined {
  return r.ok ? r.value : undefined;
}

export class SipRequest extends SipMessage {
  readonly isRequest = true;

  constructor(
    public method: string,
    /** Request-URI as text (parse with `parseUri`). */
    public uri: string,
    headers: Header[],
    body: Buffer,
  ) {
    super(headers, body);
  }
}

export class SipResponse extends SipMessage {
  readonly isRequest = false;

  constructor(
    public status: number,
    public reason: string,
    headers: Header[],
    body: Buffer,
  ) {
    super(headers, body);
  }
}

export type AnyMessage = SipRequest | SipResponse;
