/**
 * The event servers' wire format, sans-IO. See docs/events-wire.md.
 *
 *   frame = length:uint32be  type:uint8  body:(length - 1 bytes of UTF-8 JSON)
 *
 * `length` counts the type byte and the body, so the smallest frame is 5
 * bytes on the wire. A frame of a known type longer than `maxFrame` (up to
 * MAX_SKIP_FACTOR times it) is reported from its header alone and skipped:
 * its bytes are discarded as they arrive (never buffered) and decoding goes
 * on after it, so the peer gets a clear error and keeps its connection. A
 * longer one, a frame with an unknown type or a body that is not a JSON
 * object of the right shape is a protocol error: the decoder reports it and
 * stops (the connection is closed, nothing after it is trusted).
 */
import { z } from "zod";
import { MAX_ADDRESSEES } from "./options.js";

export const FrameType = {
  SUBSCRIBE: 1,
  UNSUBSCRIBE: 2,
  PUBLISH: 3,
  EVENT: 4,
  PING: 5,
  PONG: 6,
  ERROR: 7,
  WELCOME: 8,
} as const;
export type FrameTypeName = keyof typeof FrameType;
export type FrameTypeCode = (typeof FrameType)[FrameTypeName];

const topicList = z.array(z.string().min(1).max(128)).min(1).max(64);
const publisherSchema = z.object({
  subject: z.record(z.string().max(64), z.string().max(256)),
  roles: z.array(z.string().max(32)).max(64),
  /** The IP SANs of the publisher's certificate (absent from older servers: none). */
  ips: z.array(z.string().max(64)).max(32).optional(),
});

/** Body schema per frame type. Payloads stay `unknown` here: topics validate them. */
export const frameBodySchemas = {
  [FrameType.SUBSCRIBE]: z.object({ topics: topicList }).strict(),
  [FrameType.UNSUBSCRIBE]: z.object({ topics: topicList }).strict(),
  [FrameType.PUBLISH]: z
    .object({
      topic: z.string().min(1).max(128),
      msgId: z.string().min(1).max(64),
      payload: z.unknown(),
      /** Deliver only to subscribers with one of these certificate CNs. */
      to: z.array(z.string().min(1).max(128)).min(1).max(MAX_ADDRESSEES).optional(),
    })
    .strict(),
  [FrameType.EVENT]: z
    .object({ topic: z.string().min(1).max(128), msgId: z.string().min(1).max(64), payload: z.unknown(), publisher: publisherSchema })
    .strict(),
  [FrameType.PING]: z.object({}).strict(),
  [FrameType.PONG]: z.object({}).strict(),
  [FrameType.ERROR]: z.object({ code: z.string().max(64), message: z.string().max(1024) }).strict(),
  [FrameType.WELCOME]: z.object({ server: z.string().max(128), version: z.string().max(64) }).strict(),
} as const;

export type Frame =
  | { type: typeof FrameType.SUBSCRIBE; body: z.infer<(typeof frameBodySchemas)[1]> }
  | { type: typeof FrameType.UNSUBSCRIBE; body: z.infer<(typeof frameBodySchemas)[2]> }
  | { type: typeof FrameType.PUBLISH; body: z.infer<(typeof frameBodySchemas)[3]> }
  | { type: typeof FrameType.EVENT; body: z.infer<(typeof frameBodySchemas)[4]> }
  | { type: typeof FrameType.PING; body: z.infer<(typeof frameBodySchemas)[5]> }
  | { type: typeof FrameType.PONG; body: z.infer<(typeof frameBodySchemas)[6]> }
  | { type: typeof FrameType.ERROR; body: z.infer<(typeof frameBodySchemas)[7]> }
  | { type: typeof FrameType.WELCOME; body: z.infer<(typeof frameBodySchemas)[8]> };

/** @default 1 MiB */
export const DEFAULT_MAX_FRAME = 1024 * 1024;
/** An oversized frame of a known type up to this many times the limit is skipped; a larger "frame" is a protocol error. */
export const MAX_SKIP_FACTOR = 64;

export function encodeFrame(frame: Frame): Buffer {
  return encodeRaw(frame.type, JSON.stringify(frame.body));
}

/** Encode a frame whose body is already serialized JSON (fan-out encodes once). */
export function encodeRaw(type: FrameTypeCode, json: string): Buffer {
  const bodyLen = Buffer.byteLength(json, "utf8");
  const buf = Buffer.allocUnsafe(5 + bodyLen);
  buf.writeUInt32BE(1 + bodyLen, 0);
  buf.writeUInt8(type, 4);
  buf.write(json, 5, "utf8");
  return buf;
}

/** A decoded frame, or why not; `skipped` marks an oversized frame that was skipped (the stream goes on). */
export type DecodeResult = { ok: true; frame: Frame } | { ok: false; error: string; skipped?: true };

const typeNames = new Map<number, FrameTypeName>(Object.entries(FrameType).map(([k, v]) => [v, k as FrameTypeName]));

export function frameTypeName(type: number): string {
  return typeNames.get(type) ?? `type ${type}`;
}

/** Validate one frame's type and body. */
export function decodeBody(type: number, body: Buffer): DecodeResult {
  const schema = (frameBodySchemas as Record<number, z.ZodTypeAny | undefined>)[type];
  if (!schema) return { ok: false, error: `unknown frame type ${type}` };
  let json: unknown;
  try {
    json = JSON.parse(body.toString("utf8"));
  } catch {
    return { ok: false, error: `${frameTypeName(type)} body is not valid JSON` };
  }
  const parsed = schema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    return { ok: false, error: `${frameTypeName(type)} body invalid: ${issue ? `${issue.path.join(".") || "body"} ${issue.message}` : "bad shape"}` };
  }
  return { ok: true, frame: { type, body: parsed.data } as Frame };
}

/**
 * Incremental decoder: feed socket chunks, get frames. After the first error
 * it returns nothing more (`failed` is set); the caller closes the connection.
 */
export class FrameDecoder {
  private chunks: Buffer[] = [];
  private buffered = 0;
  /** Bytes of an oversized frame still to discard. */
  private skipping = 0;
  failed: string | undefined;
  /** Oversized frames skipped so far. */
  skipped = 0;

  constructor(private readonly maxFrame = DEFAULT_MAX_FRAME) {}

  push(chunk: Buffer): DecodeResult[] {
    if (this.failed) return [];
    if (this.skipping > 0) {
      const n = Math.min(this.skipping, chunk.length);
      this.skipping -= n;
      chunk = chunk.subarray(n);
      if (chunk.length === 0) return [];
    }
    this.chunks.push(chunk);
    this.buffered += chunk.length;
    const out: DecodeResult[] = [];
    let buf = this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks, this.buffered);
    let offset = 0;
    while (buf.length - offset >= 4) {
      const len = buf.readUInt32BE(offset);
      if (len < 1) {
        this.failed = "empty frame";
        out.push({ ok: false, error: this.failed });
        this.reset();
        return out;
      }
      if (len > this.maxFrame + 1) {
        // Skipped only when it looks like a frame: a known type and a length within MAX_SKIP_FACTOR × the limit.
        // Anything else (an HTTP request, 2 GB of "length") is garbage: a protocol error.
        if (buf.length - offset < 5) break;
        const type = buf.readUInt8(offset + 4);
        if (!typeNames.has(type) || len > this.maxFrame * MAX_SKIP_FACTOR) {
          this.failed = `frame of ${len} bytes exceeds the limit of ${this.maxFrame} bytes`;
          out.push({ ok: false, error: this.failed });
          this.reset();
          return out;
        }
        this.skipped++;
        out.push({ ok: false, error: `frame of ${len} bytes exceeds the limit of ${this.maxFrame} bytes; skipped`, skipped: true });
        const available = buf.length - offset - 4;
        if (available >= len) {
          offset += 4 + len;
          continue;
        }
        this.skipping = len - available;
        this.reset();
        return out;
      }
      if (buf.length - offset < 4 + len) break;
      const type = buf.readUInt8(offset + 4);
      const result = decodeBody(type, buf.subarray(offset + 5, offset + 4 + len));
      offset += 4 + len;
      out.push(result);
      if (!result.ok) {
        this.failed = result.error;
        this.reset();
        return out;
      }
    }
    buf = buf.subarray(offset);
    this.chunks = buf.length > 0 ? [buf] : [];
    this.buffered = buf.length;
    return out;
  }

  private reset(): void {
    this.chunks = [];
    this.buffered = 0;
  }
}
