import { describe, it } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { murmur3, murmur3Bytes } from "../../src/overlay/index.js";

/**
 * An independent reference: MurmurHash3_x86_32 transcribed from Appleby's
 * C++ (smhasher/src/MurmurHash3.cpp), with BigInt arithmetic modulo 2^32
 * instead of Math.imul and the bytes read with Buffer.readUInt32LE.
 */
function referenceMurmur3(data: Buffer, seed = 0): number {
  const M = 0xffffffffn;
  const mul = (a: bigint, b: bigint) => (a * b) & M;
  const rotl = (x: bigint, r: bigint) => ((x << r) | (x >> (32n - r))) & M;
  const c1 = 0xcc9e2d51n;
  const c2 = 0x1b873593n;
  let h1 = BigInt(seed >>> 0);
  const nblocks = Math.floor(data.length / 4);
  for (let i = 0; i < nblocks; i++) {
    let k1 = BigInt(data.readUInt32LE(i * 4));
    k1 = mul(k1, c1);
    k1 = rotl(k1, 15n);
    k1 = mul(k1, c2);
    h1 ^= k1;
    h1 = rotl(h1, 13n);
    h1 = (mul(h1, 5n) + 0xe6546b64n) & M;
  }
  const tail = nblocks * 4;
  const rest = data.length & 3;
  if (rest > 0) {
    let k1 = 0n;
    if (rest === 3) k1 ^= BigInt(data[tail + 2]!) << 16n;
    if (rest >= 2) k1 ^= BigInt(data[tail + 1]!) << 8n;
    k1 ^= BigInt(data[tail]!);
    k1 = mul(k1, c1);
    k1 = rotl(k1, 15n);
    k1 = mul(k1, c2);
    h1 ^= k1;
  }
  h1 ^= BigInt(data.length);
  h1 ^= h1 >> 16n;
  h1 = mul(h1, 0x85ebca6bn);
  h1 ^= h1 >> 13n;
  h1 = mul(h1, 0xc2b2ae35n);
  h1 ^= h1 >> 16n;
  return Number(h1);
}

describe("MurmurHash3 x86_32", () => {
  // Published vectors (smhasher's verification set and common test suites).
  const vectors: Array<[string, number, number]> = [
    ["", 0, 0],
    ["", 1, 0x514e28b7],
    ["", 0xffffffff, 0x81f16f39],
    ["a", 0, 0x3c2569b2],
    ["abc", 0, 0xb3dd93fa],
    ["abcd", 0, 0x43ed676a],
    ["aaaa", 0x9747b28c, 0x5a97808a],
    ["hello", 0, 0x248bfa47],
    ["Hello, world!", 0, 0xc0363e43],
    ["Hello, world!", 1234, 0xfaf6cdb3],
    ["The quick brown fox jumps over the lazy dog", 0, 0x2e4ff723],
  ];

  it("matches the published vectors", () => {
    for (const [text, seed, want] of vectors) assert.equal(murmur3(text, seed), want, `${JSON.stringify(text)} seed ${seed}`);
  });

  it("the reference implementation in this test matches the same vectors", () => {
    for (const [text, seed, want] of vectors) assert.equal(referenceMurmur3(Buffer.from(text, "utf8"), seed), want, JSON.stringify(text));
  });

  it("hashes the UTF-8 bytes of non-ASCII strings", () => {
    for (const s of ["héllo ☎", "ünïcode@exämple.com", "日本@example.jp", "a😀b", "\u0080", "\u07ff\u0800\uffff"]) {
      const bytes = Buffer.from(s, "utf8");
      assert.equal(murmur3(s), referenceMurmur3(bytes), s);
      assert.equal(murmur3Bytes(bytes), referenceMurmur3(bytes), s);
    }
  });

  it("agrees with the reference on arbitrary strings, lengths and seeds (fuzz)", () => {
    fc.assert(
      fc.property(fc.oneof(fc.string({ unit: "binary", maxLength: 40 }), fc.string({ maxLength: 40 })), fc.integer({ min: 0, max: 0xffffffff }), (s, seed) => {
        const bytes = Buffer.from(s, "utf8");
        const want = referenceMurmur3(bytes, seed);
        assert.equal(murmur3(s, seed), want);
        assert.equal(murmur3Bytes(bytes, seed), want);
      }),
      { numRuns: 300, interruptAfterTimeLimit: 3000 },
    );
  });

  it("returns unsigned 32-bit integers", () => {
    for (let i = 0; i < 1000; i++) {
      const h = murmur3(`10.0.0.1-${i}`);
      assert.ok(Number.isInteger(h) && h >= 0 && h <= 0xffffffff);
    }
  });
});
