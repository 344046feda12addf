import { describe, it } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { DEFAULT_MAX_FRAME, encodeFrame, FrameDecoder, FrameType, type Frame } from "../../src/events/index.js";

const publish: Frame = { type: FrameType.PUBLISH, body: { topic: "Thor.Presence", msgId: "m-1", payload: { id: "n1", n: [1, 2, 3], s: "héllo ☎" } } };

describe("event frame codec", () => {
  it("round-trips every frame type", () => {
    const frames: Frame[] = [
      { type: FrameType.SUBSCRIBE, body: { topics: ["Thor.Members", "Thor.Presence"] } },
      { type: FrameType.UNSUBSCRIBE, body: { topics: ["Thor.Members"] } },
      publish,
      { type: FrameType.EVENT, body: { topic: "Thor.Leave", msgId: "x", payload: { id: "a", ip: "1.2.3.4" }, publisher: { subject: { CN: "a", OU: "node" }, roles: ["*"] } } },
      { type: FrameType.PING, body: {} },
      { type: FrameType.PONG, body: {} },
      { type: FrameType.ERROR, body: { code: "forbidden", message: "no" } },
      { type: FrameType.WELCOME, body: { server: "es1", version: "thor-events/1" } },
    ];
    const wire = Buffer.concat(frames.map(encodeFrame));
    const out = new FrameDecoder().push(wire);
    assert.deepEqual(out, frames.map((frame) => ({ ok: true, frame })));
  });

  it("reassembles frames split at every byte boundary", () => {
    const wire = Buffer.concat([encodeFrame(publish), encodeFrame({ type: FrameType.PING, body: {} })]);
    for (let cut = 1; cut < wire.length; cut++) {
      const d = new FrameDecoder();
      const got = [...d.push(wire.subarray(0, cut)), ...d.push(wire.subarray(cut))];
      assert.equal(got.length, 2, `cut at ${cut}`);
      assert.ok(got.every((r) => r.ok));
    }
  });

  it("reports an oversized frame from its header alone and skips it without buffering, then decodes on", () => {
    const d = new FrameDecoder(1024);
    const header = Buffer.alloc(5);
    header.writeUInt32BE(2048, 0);
    header.writeUInt8(FrameType.PUBLISH, 4);
    const out = d.push(header);
    assert.equal(out.length, 1);
    assert.equal(out[0]?.ok, false);
    assert.ok(out[0]?.ok === false && out[0].skipped === true);
    assert.match(out[0]?.ok === false ? out[0].error : "", /exceeds the limit of 1024 bytes; skipped/);
    assert.equal(d.failed, undefined, "the stream goes on");
    // The body arrives in pieces and is discarded; the frame after it decodes.
    assert.deepEqual(d.push(Buffer.alloc(1000, 0x41)), []);
    const rest = Buffer.concat([Buffer.alloc(2047 - 1000, 0x42), encodeFrame(publish)]);
    const after = d.push(rest);
    assert.equal(after.length, 1);
    assert.ok(after[0]?.ok && after[0].frame.type === FrameType.PUBLISH);
    assert.equal(d.skipped, 1);
    // Oversized and whole in one chunk, between two good frames.
    const big = Buffer.alloc(4 + 3000);
    big.writeUInt32BE(3000, 0);
    big.writeUInt8(FrameType.EVENT, 4);
    const all = new FrameDecoder(1024).push(Buffer.concat([encodeFrame(publish), big, encodeFrame(publish)]));
    assert.deepEqual(all.map((r) => (r.ok ? "frame" : "skipped")), ["frame", "skipped", "frame"]);
  });

  it("treats an absurd length or an unknown type as garbage: a protocol error, not a frame to skip", () => {
    for (const head of [Buffer.from("GET / HTTP/1.1\r\n"), Buffer.from([0x7f, 0xff, 0xff, 0xff, FrameType.PUBLISH])]) {
      const d = new FrameDecoder(1024);
      const out = d.push(head);
      assert.equal(out.length, 1);
      assert.ok(out[0]?.ok === false && !out[0].skipped);
      assert.match(d.failed ?? "", /exceeds the limit of 1024 bytes/);
      assert.deepEqual(d.push(encodeFrame(publish)), [], "nothing is decoded after an error");
    }
  });

  it("reports unknown types, bad JSON and wrong shapes", () => {
    const raw = (type: number, body: string) => {
      const b = Buffer.from(body);
      const h = Buffer.alloc(5);
      h.writeUInt32BE(b.length + 1, 0);
      h.writeUInt8(type, 4);
      return Buffer.concat([h, b]);
    };
    const cases: Array<[Buffer, RegExp]> = [
      [raw(99, "{}"), /unknown frame type 99/],
      [raw(FrameType.SUBSCRIBE, "{not json"), /not valid JSON/],
      [raw(FrameType.SUBSCRIBE, '{"topics":[]}'), /SUBSCRIBE body invalid/],
      [raw(FrameType.PUBLISH, '{"topic":"T","msgId":"1","payload":1,"extra":true}'), /PUBLISH body invalid/],
      [Buffer.from([0, 0, 0, 0]), /empty frame/],
    ];
    for (const [wire, re] of cases) {
      const out = new FrameDecoder().push(wire);
      assert.equal(out[0]?.ok, false);
      assert.match(out[0]?.ok === false ? out[0].error : "", re);
    }
  });

  it("never throws on arbitrary bytes (fuzz)", () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 64 }), { maxLength: 8 }), (chunks) => {
        const d = new FrameDecoder(256);
        for (const c of chunks) d.push(Buffer.from(c));
      }),
      { numRuns: 2000, interruptAfterTimeLimit: 3000 },
    );
  });

  it("keeps the default limit at 1 MiB", () => {
    assert.equal(DEFAULT_MAX_FRAME, 1024 * 1024);
  });
});
