/**
 * Framing SIP messages on a byte stream (TCP, TLS): RFC 3261 18.3. A
 * message is the header section up to the blank line plus exactly
 * Content-Length bytes of body (Content-Length is mandatory on streams).
 * Between messages, CRLF keepalives (RFC 5626 3.5.1) are recognized: a
 * double CRLF "ping" must be answered with a single CRLF "pong".
 *
 * After a framing error (no Content-Length, oversized headers or body) the
 * stream cannot be resynchronized: the framer reports it and stops.
 */
import { findHeaderEnd, parseMessage, DEFAULT_MAX_MESSAGE, type ParseResult } from "./parser.js";
import { DEFAULT_MESSAGE_LIMITS } from "./limits.js";
import { headerKey } from "./header-names.js";
import type { MessageLimits } from "./limits.js";

export type FrameEvent =
  | { kind: "message"; result: ParseResult; bytes: number }
  | { kind: "ping" }
  | { kind: "pong" }
  | { kind: "fatal"; reason: string };

export class StreamFramer {
  private buf: Buffer = Buffer.alloc(0);
  private dead = false;

  constructor(
    private readonly maxMessage = DEFAULT_MAX_MESSAGE,
    limits?: Partial<MessageLimits>,
  ) {
    this.limits = limits;
  }

  private readonly limits: Partial<MessageLimits> | undefined;

  get closed(): boolean {
    return this.dead;
  }

  /** Bytes of an incomplete message waiting for the rest. */
  get buffered(): number {
    return this.buf.length;
  }

  push(chunk: Buffer): FrameEvent[] {
    if (this.dead) return [];
    this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
    const out: FrameEvent[] = [];
    for (;;) {
      // Keepalives between messages.
      let i = 0;
      while (i < this.buf.length && (this.buf[i] === 0x0d || this.buf[i] === 0x0a)) i++;
      if (i > 0) {
        const crlfs = this.buf.subarray(0, i).toString("latin1");
        if (i === this.buf.length && !crlfs.endsWith("\n")) break; // wait for the LF
        const pairs = crlfs.split("\r\n").length - 1;
        if (pairs >= 2) out.push({ kind: "ping" });
        else if (pairs === 1) out.push({ kind: "pong" });
        this.buf = this.buf.subarray(i);
      }
      if (this.buf.length === 0) break;
      const end = findHeaderEnd(this.buf);
      if (!end) {
        if (this.buf.length > this.maxMessage) return this.fail(out, `header section longer than ${this.maxMessage} bytes`);
        break;
      }
      const head = this.buf.toString("latin1", 0, end.headEnd);
      const length = contentLength(head);
      if (length === undefined) return this.fail(out, "missing or invalid Content-Length on a stream transport");
      const total = end.bodyStart + length;
      if (total > this.maxMessage) return this.fail(out, `message of ${total} bytes exceeds the limit of ${this.maxMessage} bytes`);
      if (this.buf.length < total) break;
      const message = this.buf.subarray(0, total);
      this.buf = this.buf.subarray(total);
      out.push({ kind: "message", result: parseMessage(message, { stream: true, maxMessage: this.maxMessage, ...(this.limits ? { limits: { ...DEFAULT_MESSAGE_LIMITS, ...this.limits } } : {}) }), bytes: total });
    }
    if (this.buf.length > 0 && this.buf.byteOffset > 0 && this.buf.length < 4096) this.buf = Buffer.from(this.buf);
    return out;
  }

  private fail(out: FrameEvent[], reason: string): FrameEvent[] {
    this.dead = true;
    this.buf = Buffer.alloc(0);
    out.push({ kind: "fatal", reason });
    return out;
  }
}

/** Content-Length (or `l`) from a header section; undefined when absent or invalid. */
function contentLength(head: string): number | undefined {
  let value: string | undefined;
  for (const line of head.split(/\r?\n/)) {
    const colon = line.indexOf(":");
    if (colon <= 0 || line[0] === " " || line[0] === "\t") continue;
    if (headerKey(line.slice(0, colon).trim()) === "content-length") {
      if (value !== undefined) return undefined;
      value = line.slice(colon + 1).trim();
    }
  }
  if (value === undefined || !/^\d{1,9}$/.test(value)) return undefined;
  return Number(value);
}
