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

/** First element of a list header value (the whole value when it holds no comma). */
export function firstElement(value: string): string | undefined {
  if (value.indexOf(",") < 0) {
    const v = value.trim();
    return v.length > 0 ? v : undefined;
  }
  return splitList(value)?.[0];
}

export abstract class SipMessage {
  // Parsed header values, computed on first use (undefined: not yet; null: present but malformed).
  private pVia: Via | null | undefined = undefined;
  private pFrom: NameAddr | null | undefined = undefined;
  private pTo: NameAddr | null | undefined = undefined;
  private pCSeq: CSeq | undefined = undefined;

  constructor(
    public headers: Header[],
    public body: Buffer,
  ) {}

  abstract readonly isRequest: boolean;

  /** First value of a header (the whole line for non-list headers). */
  get(key: string): string | undefined {
    const k = headerKey(key);
    for (const h of this.headers) if (h.key === k) return isListHeader(k) ? (firstElement(h.value) ?? h.value) : h.value;
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
    if (this.pCSeq === undefined) {
      const r = parseCSeq(this.get("cseq") ?? "");
      this.pCSeq = r.ok ? r.value : { seq: 0, method: "" };
    }
    return this.pCSeq;
  }

  get from(): NameAddr | undefined {
    if (this.pFrom === undefined) this.pFrom = parsed(parseNameAddr(this.get("from") ?? ""));
    return this.pFrom ?? undefined;
  }

  get to(): NameAddr | undefined {
    if (this.pTo === undefined) this.pTo = parsed(parseNameAddr(this.get("to") ?? ""));
    return this.pTo ?? undefined;
  }

  /** The top Via (the one this hop's transaction matches on). */
  get via(): Via | undefined {
    if (this.pVia === undefined) this.pVia = parsed(parseVia(this.get("via") ?? ""));
    return this.pVia ?? undefined;
  }

  get vias(): string[] {
    return this.getAll("via");
  }

  /**
   * Hand over values the parser already parsed while validating the
   * message (they are what the accessors would compute from the same text).
   */
  prime(via: Via | undefined, from: NameAddr, to: NameAddr, cseq: CSeq): void {
    if (via) this.pVia = via;
    this.pFrom = from;
    this.pTo = to;
    this.pCSeq = cseq;
  }

  /**
   * Replace the top Via by `text`, the serialization of `via` (the parsed
   * top Via, changed): the parsed value stays, no parse again.
   */
  replaceTopVia(via: Via, text: string): void {
    this.shift("via");
    this.prepend("via", text);
    this.pVia = via;
  }

  /**
   * A copy of this request for another target (RFC 3261 16.6 step 1): the
   * header lines are shared, not copied (the mutators replace a line, they
   * never edit one), and so are the parsed From, To and CSeq (the copy's
   * lines hold the same text).
   */
  protected copyParsedTo(other: SipMessage): void {
    other.pFrom = this.pFrom;
    other.pTo = this.pTo;
    other.pCSeq = this.pCSeq;
  }

  private invalidate(key: string): void {
    if (key === "via") this.pVia = undefined;
    else if (key === "from") this.pFrom = undefined;
    else if (key === "to") this.pTo = undefined;
    else if (key === "cseq") this.pCSeq = undefined;
  }
}

function parsed<T>(r: { ok: true; value: T } | { ok: false; reason: string }): T | null {
  return r.ok ? r.value : null;
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

  /** This request with another Request-URI (a branch of a proxy, RFC 3261 16.6 step 1–2), sharing what it can. */
  copyFor(uri: string): SipRequest {
    const copy = new SipRequest(this.method, uri, this.headers.slice(), this.body);
    this.copyParsedTo(copy);
    return copy;
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
