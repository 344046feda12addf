import { describe, it } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { decodeBencode, encodeBencode } from "../../src/media/bencode-codec.js";

describe("bencode (rtpengine ng)", () => {
  it("encodes dictionaries with sorted keys and decodes them back", () => {
    const v = { "call-id": "abc", command: "offer", flags: ["trust-address"], n: -3 };
    const b = encodeBencode(v);
    assert.equal(b.toString(), "d7:call-id3:abc7:command5:offer5:flagsl13:trust-addresse1:ni-3ee");
    assert.deepEqual(decodeBencode(b), { ok: true, value: v, end: b.length });
  });

  it("reports the first error with its offset, never throws", () => {
    assert.deepEqual(decodeBencode(Buffer.from("d3:abc")), { ok: false, reason: "truncated", offset: 6 });
    assert.equal(decodeBencode(Buffer.from("5:ab")).ok, false);
    assert.equal(decodeBencode(Buffer.from("i12x")).ok, false);
    assert.equal(decodeBencode(Buffer.from("di1ei2ee")).ok, false, "integer keys are refused");
    assert.equal(decodeBencode(Buffer.from("l".repeat(100))).ok, false, "depth bounded");
    const proto = decodeBencode(Buffer.from("d9:__proto__d1:xi1eee"));
    assert.ok(proto.ok);
    assert.equal(Object.getPrototypeOf(proto.value), Object.prototype, "a __proto__ key is data, not a prototype");
    fc.assert(fc.property(fc.uint8Array({ maxLength: 200 }), (b) => typeof decodeBencode(b).ok === "boolean"), { numRuns: 3000 });
  });

  it("round-trips arbitrary values", () => {
    const value = fc.letrec((tie) => ({
      v: fc.oneof({ depthSize: "small" }, fc.string(), fc.integer(), fc.array(tie("v"), { maxLength: 4 }), fc.dictionary(fc.string(), tie("v"), { maxKeys: 4, noNullPrototype: true })),
    })).v;
    fc.assert(fc.property(value, (v) => {
      const d = decodeBencode(encodeBencode(v as never));
      assert.ok(d.ok);
      assert.deepEqual(d.value, v);
    }), { numRuns: 500 });
  });
});
