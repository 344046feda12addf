/**
 * The control link's wire format, sans-IO: node-to-node request/response
 * over mutual TLS (see docs/control-link.md).
 *
 *   frame = length:uint32be  body:(length bytes of UTF-8 JSON)
 *   body  = {"q": id, "m": method, "p": payload}            a request
 *         | {"r": id, "ok": true, "v": value}               its answer
 *         | {"r": id, "ok": false, "code": c, "msg": text}   its failure
 *
 * Ids are chosen by the caller and unique per connection; answers may come
 * in any order. A frame over the size limit or a body that is not one of
 * the three shapes is a protocol error: the decoder reports it and stops.
 */
import { z } from "zod";

/** @default 8 MiB (a ring slice handed over in one batch stays well below). */
export const DEFAULT_MAX_CONTROL_FRAME = 8 * 1024 * 1024;

const id = z.number().int().nonnegative();
export const controlFrameSchema = z.union([
  z.object({ q: id, m: z.string().min(1).max(64), p: z.unknown() }).strict(),
  z.object({ r: id, ok: z.literal(true), v: z.unknown() }).strict(),
  z.object({ r: id, ok: z.literal(false), code: z.string().max(64), msg: z.string().max(1024) }).strict(),
]);

export type ControlFrame = z.infer<typeof controlFrameSchema>;
export type ControlRequest = Extract<ControlFrame, { q: number }>;
export type ControlAnswer = Extract<ControlFrame, { r: number }>;

export function isRequest(f: ControlFrame): f is ControlRequest {
  return "q" in f;
}

export function encodeControlFrame(frame: ControlFrame): Buffer {
  const body = Buffer.from(JSON.stringify(frame), "utf8");
  const out = Buffer.allocUnsafe(4 + body.length);
  out.writeUInt32BE(body.length, 0);
  body.copy(out, 4);
  return out;
}

export type ControlDecodeResult = { ok: true; frame: ControlFrame } | { ok: false; error: string };

/** Incremental decoder: feed chunks, get frames; after the first error it yields nothing more. */
export class ControlDecoder {
  private chunks: Buffer[] = [];
  private buffered = 0;
  /** Bytes the buffer must hold before the next frame can be complete: chunks are joined only then, so a large frame costs one copy, not one per chunk. */
  private needed = 4;
  failed: string | undefined;

  constructor(private readonly maxFrame = DEFAULT_MAX_CONTROL_FRAME) {}

  push(chunk: Buffer): ControlDecodeResult[] {
    if (this.failed) return [];
    this.chunks.push(chunk);
    this.buffered += chunk.length;
    if (this.buffered < this.needed) return [];
    const out: ControlDecodeResult[] = [];
    let buf = this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks, this.buffered);
    let offset = 0;
    this.needed = 4;
    while (buf.length - offset >= 4) {
      const len = buf.readUInt32BE(offset);
      if (len > this.maxFrame) return this.fail(out, `frame of ${len} bytes exceeds the limit of ${this.maxFrame} bytes`);
      if (buf.length - offset < 4 + len) {
        this.needed = 4 + len;
        break;
      }
      const text = buf.toString("utf8", offset + 4, offset + 4 + len);
      offset += 4 + len;
      let json: unknown;
      try {
        json = JSON.parse(text);
      } catch {
        return this.fail(out, "frame body is not JSON");
      }
      const parsed = controlFrameSchema.safeParse(json);
      if (!parsed.success) return this.fail(out, `invalid frame: ${parsed.error.issues[0]?.message ?? "bad shape"}`);
      out.push({ ok: true, frame: parsed.data });
    }
    buf = buf.subarray(offset);
    this.chunks = buf.length > 0 ? [buf] : [];
    this.buffered = buf.length;
    return out;
  }

  private fail(out: ControlDecodeResult[], error: string): ControlDecodeResult[] {
    this.failed = error;
    this.chunks = [];
    this.buffered = 0;
    out.push({ ok: false, error });
    return out;
  }
}
