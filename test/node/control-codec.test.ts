import { describe, it } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { ControlDecoder, DEFAULT_MAX_CONTROL_FRAME, encodeControlFrame, type ControlFrame } from "../../src/node/index.js";

const request: ControlFrame = { q: 1, m: "location.replicate", p: { aor: "alice@example.com", contacts: [{ uri: "sip:alice@10.0.0.1", expires: 3600 }], note: "héllo ☎" } };
const answer: ControlFrame = { r: 1, ok: true, v: { stored: 2 } };
const failure: ControlFrame = { r: 2, ok: false, code: "THOR_SIP_NOT_RESPONSIBLE", msg: "not the responsible node for bob@example.com" };

/** A frame with an arbitrary body: 4-byte big-endian length, then the bytes. */
function raw(body: string | Buffer): Buffer {
  const b = typeof body === "string" ? Buffer.from(body, "utf8") : body;
  const h = Buffer.alloc(4);
  h.writeUInt32BE(b.length, 0);
  return Buffer.concat([h, b]);
}

function errorOf(d: ControlDecoder, wire: Buffer): string {
  const out = d.push(wire);
  assert.equal(out.length, 1, "exactly one result: the error");
  const r = out[0]!;
  assert.equal(r.ok, false);
  return r.ok ? "" : r.error;
}

describe("control link frame codec", () => {
  it("round-trips a request, an answer and a failure", () => {
    const frames = [request, answer, failure];
    const out = new ControlDecoder().push(Buffer.concat(frames.map(encodeControlFrame)));
    assert.deepEqual(out, frames.map((frame) => ({ ok: true, frame })));
  });

  it("writes a 4-byte big-endian length followed by the UTF-8 JSON body", () => {
    const wire = encodeControlFrame(answer);
    const body = JSON.stringify(answer);
    assert.equal(wire.readUInt32BE(0), Buffer.byteLength(body));
    assert.equal(wire.subarray(4).toString("utf8"), body);
    // the length counts bytes, not characters
    const wide = encodeControlFrame({ q: 7, m: "x", p: "☎☎☎" });
    assert.equal(wide.readUInt32BE(0), wide.length - 4);
    assert.deepEqual(new ControlDecoder().push(wide), [{ ok: true, frame: { q: 7, m: "x", p: "☎☎☎" } }]);
  });

  it("reassembles frames split at every byte boundary, including inside a multi-byte character", () => {
    const wire = Buffer.concat([encodeControlFrame(request), encodeControlFrame(failure)]);
    for (let cut = 1; cut < wire.length; cut++) {
      const d = new ControlDecoder();
      const got = [...d.push(wire.subarray(0, cut)), ...d.push(wire.subarray(cut))];
      assert.deepEqual(got, [{ ok: true, frame: request }, { ok: true, frame: failure }], `cut at ${cut}`);
    }
  });

  it("decodes a stream fed one byte at a time", () => {
    const frames = [request, answer, failure];
    const wire = Buffer.concat(frames.map(encodeControlFrame));
    const d = new ControlDecoder();
    const got = [];
    for (let i = 0; i < wire.length; i++) got.push(...d.push(wire.subarray(i, i + 1)));
    assert.deepEqual(got, frames.map((frame) => ({ ok: true, frame })));
    assert.equal(d.failed, undefined);
  });

  it("decodes many coalesced frames from one chunk, keeping a trailing partial frame for the next", () => {
    const frames: ControlFrame[] = Array.from({ length: 100 }, (_, i) => ({ q: i, m: "ping", p: i }));
    const wire = Buffer.concat(frames.map(encodeControlFrame));
    const tail = encodeControlFrame(answer);
    const d = new ControlDecoder();
    const out = d.push(Buffer.concat([wire, tail.subarray(0, 6)]));
    assert.deepEqual(out, frames.map((frame) => ({ ok: true, frame })));
    assert.deepEqual(d.push(tail.subarray(6)), [{ ok: true, frame: answer }]);
  });

  it("accepts ids up to the largest safe integer and any JSON payload", () => {
    const frames: ControlFrame[] = [
      { q: 0, m: "m", p: null },
      { q: Number.MAX_SAFE_INTEGER, m: "m".repeat(64), p: [1, "two", { three: [3] }] },
      { r: 0, ok: true, v: null },
      { r: 5, ok: false, code: "", msg: "" },
    ];
    for (const f of frames) assert.deepEqual(new ControlDecoder().push(encodeControlFrame(f)), [{ ok: true, frame: f }]);
  });

  it("refuses an oversized frame from its length alone, before the body arrives", () => {
    const d = new ControlDecoder(1024);
    const header = Buffer.alloc(4);
    header.writeUInt32BE(1025, 0);
    assert.equal(errorOf(d, header), "frame of 1025 bytes exceeds the limit of 1024 bytes");
    assert.equal(d.failed, "frame of 1025 bytes exceeds the limit of 1024 bytes");
    // exactly at the limit is fine
    const atLimit = raw(JSON.stringify({ q: 1, m: "x", p: "a".repeat(1024 - 22) }));
    assert.equal(atLimit.readUInt32BE(0), 1024);
    assert.equal(new ControlDecoder(1024).push(atLimit)[0]?.ok, true);
  });

  it("reports frames decoded before the error, then the error", () => {
    const d = new ControlDecoder();
    const out = d.push(Buffer.concat([encodeControlFrame(request), raw("{oops"), encodeControlFrame(answer)]));
    assert.deepEqual(out, [{ ok: true, frame: request }, { ok: false, error: "frame body is not JSON" }]);
  });

  it("reports a body that is not JSON, including an empty or non-UTF-8 body", () => {
    for (const body of ["{not json", "", Buffer.from([0xff, 0xfe, 0x00])]) {
      assert.equal(errorOf(new ControlDecoder(), raw(body)), "frame body is not JSON");
    }
  });

  it("reports bodies that are JSON but not one of the three shapes", () => {
    const cases = [
      "null",
      "42",
      '"text"',
      "[]",
      "{}",
      '{"q":1,"p":{}}', // no method
      '{"q":1,"m":"","p":{}}', // empty method
      `{"q":1,"m":"${"m".repeat(65)}","p":{}}`, // method too long
      '{"q":-1,"m":"x","p":{}}', // negative id
      '{"q":1.5,"m":"x","p":{}}', // fractional id
      '{"q":"1","m":"x","p":{}}', // id as text
      '{"q":1,"m":"x","p":{},"extra":true}', // unknown key
      '{"r":1,"ok":"yes","v":1}', // ok not a boolean
      '{"r":1,"ok":true,"v":1,"code":"x"}', // success with a code
      '{"r":1,"ok":false,"msg":"no code"}', // failure without a code
      `{"r":1,"ok":false,"code":"c","msg":"${"x".repeat(1025)}"}`, // message too long
      '{"q":1,"r":1,"m":"x","ok":true}', // both request and answer
    ];
    for (const body of cases) {
      const d = new ControlDecoder();
      assert.match(errorOf(d, raw(body)), /^invalid frame: /, body);
      assert.match(d.failed ?? "", /^invalid frame: /);
    }
  });

  it("decodes nothing after an error, whatever comes next", () => {
    const d = new ControlDecoder();
    errorOf(d, raw("[]"));
    assert.deepEqual(d.push(encodeControlFrame(request)), []);
    assert.deepEqual(d.push(Buffer.concat([encodeControlFrame(answer), encodeControlFrame(failure)])), []);
    assert.match(d.failed ?? "", /^invalid frame: /);
  });

  it("reassembles a frame of the maximum size from TLS-record-sized chunks with one join, not one per chunk", (t) => {
    const wire = encodeControlFrame({ q: 1, m: "ring.handover", p: "a".repeat(DEFAULT_MAX_CONTROL_FRAME - 100) });
    assert.ok(wire.length - 4 <= DEFAULT_MAX_CONTROL_FRAME);
    // Count the bytes the decoder joins (the real Buffer.concat still does the work): joining the
    // chunks on every push copied ~2 GiB for this frame; one join at the end copies the frame once.
    const concat = t.mock.method(Buffer, "concat");
    const d = new ControlDecoder();
    let frames = 0;
    const chunk = 16 * 1024; // 513 TLS records
    for (let i = 0; i < wire.length; i += chunk) frames += d.push(wire.subarray(i, i + chunk)).length;
    const joined = concat.mock.calls.reduce((n, c) => n + (c.result as Buffer).length, 0);
    assert.equal(frames, 1);
    assert.ok(joined <= wire.length, `${joined} bytes joined for a frame of ${wire.length}`);
  });

  it("keeps the default limit at 8 MiB", () => {
    assert.equal(DEFAULT_MAX_CONTROL_FRAME, 8 * 1024 * 1024);
  });

  it("never throws on arbitrary bytes, and stays failed once failed (fuzz)", () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 64 }), { maxLength: 8 }), (chunks) => {
        const d = new ControlDecoder(256);
        let failedAt = -1;
        chunks.forEach((c, i) => {
          const out = d.push(Buffer.from(c));
          if (failedAt >= 0) assert.deepEqual(out, []);
          if (d.failed !== undefined && failedAt < 0) failedAt = i;
        });
      }),
      { numRuns: 2000, interruptAfterTimeLimit: 3000 },
    );
  });

  it("never throws on well-framed arbitrary JSON, and decodes exactly the valid frames (fuzz)", () => {
    const frame = fc.oneof(
      fc.record({ q: fc.nat(), m: fc.string({ minLength: 1, maxLength: 64 }), p: fc.jsonValue({ maxDepth: 3 }) }),
      fc.record({ r: fc.nat(), ok: fc.constant(true as const), v: fc.jsonValue({ maxDepth: 3 }) }),
      fc.record({ r: fc.nat(), ok: fc.constant(false as const), code: fc.string({ maxLength: 64 }), msg: fc.string({ maxLength: 1024 }) }),
    );
    fc.assert(
      fc.property(fc.array(frame, { maxLength: 6 }), fc.array(fc.nat(), { maxLength: 6 }), (frames, cuts) => {
        const wire = Buffer.concat(frames.map((f) => encodeControlFrame(f as ControlFrame)));
        const points = [...new Set(cuts.map((c) => c % (wire.length + 1)))].sort((a, b) => a - b);
        const d = new ControlDecoder();
        const got = [];
        let from = 0;
        for (const p of [...points, wire.length]) {
          got.push(...d.push(wire.subarray(from, p)));
          from = p;
        }
        // JSON round trip drops -0 and the like: compare with what JSON makes of each frame
        assert.deepEqual(got, frames.map((f) => ({ ok: true, frame: JSON.parse(JSON.stringify(f)) as ControlFrame })));
      }),
      { numRuns: 500, interruptAfterTimeLimit: 3000 },
    );
  });
});
