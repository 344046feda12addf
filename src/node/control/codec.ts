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
/** @default 8 MiB (a ring slice handed over in one batch stays well below). */
export const DEFAULT_MAX_CONTROL_FRAME = 8 * 1024 * 1024;
const MAX_METHOD = 64;
const MAX_CODE = 64;
const MAX_MESSAGE = 1024;

export type ControlRequest = { q: number; m: string; p?: unknown };
export type ControlAnswer = { r: number; ok: true; v?: unknown } | { r: number; ok: false; code: string; msg: string };
export type ControlFrame = ControlRequest | ControlAnswer;

const isId = (x: unknown): x is number => typeof x === "number" && Number.isSafeInteger(x) && x >= 0;
const isText = (x: unknown, min: number, max: number): x is string => typeof x === "string" && x.length >= min && x.length <= max;
const only = (o: object, allowed: readonly string[]): string | undefined => {
  for (const k of Object.keys(o)) if (!allowed.includes(k)) return `unknown key "${k.slice(0, 32)}"`;
  return undefined;
};

/**
 * One of the three shapes, or why not. Checked by hand rather than with a
 * schema union: the union tried every answer as a request first and built
 * the issue list of that failure, 2–3% of a member's CPU on a 2-node
 * profile (docs/PERFORMANCE.md, "Cluster cost at fixed offered rates").
 */
export function checkControlFrame(json: unknown): ControlFrame | string {
  if (typeof json !== "object" || json === null || Array.isArray(json)) return "not an object";
  const o = json as Record<string, unknown>;
  if (Object.hasOwn(o, "q")) {
    if (!isId(o["q"])) return "q is not an id";
    if (!isText(o["m"], 1, MAX_METHOD)) return `m is not a method of 1 to ${MAX_METHOD} characters`;
    return only(o, ["q", "m", "p"]) ?? { q: o["q"], m: o["m"], p: o["p"] };
  }
  if (!Object.hasOwn(o, "r")) return "neither a request (q) nor an answer (r)";
  if (!isId(o["r"])) return "r is not an id";
  if (o["ok"] === true) return only(o, ["r", "ok", "v"]) ?? { r: o["r"], ok: true, v: o["v"] };
  if (o["ok"] !== false) return "ok is not a boolean";
  if (!isText(o["code"], 0, MAX_CODE)) return `code is not a text of at most ${MAX_CODE} characters`;
  if (!isText(o["msg"], 0, MAX_MESSAGE)) return `msg is not a text of at most ${MAX_MESSAGE} characters`;
  return only(o, ["r", "ok", "code", "msg"]) ?? { r: o["r"], ok: false, code: o["code"], msg: o["msg"] };
}

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
      const frame = checkControlFrame(json);
      if (typeof frame === "string") return this.fail(out, `invalid frame: ${frame}`);
      out.push({ ok: true, frame });
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
