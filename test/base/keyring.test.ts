import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { KeyRing, RECENT_TAGS } from "../../src/base/keyring.js";

describe("KeyRing: tags it made or checked lately are checked by lookup, with the same answers", () => {
  it("a tag it made verifies; another tag, other data or another key id does not", () => {
    const ring = new KeyRing([{ id: "k1", key: randomBytes(32) }]);
    const { kid, tag } = ring.sign("nonce|abc|example.test");
    assert.equal(ring.verify(kid, "nonce|abc|example.test", tag), true);
    assert.equal(ring.verify(kid, "nonce|abd|example.test", tag), false);
    const other = tag.startsWith("A") ? `B${tag.slice(1)}` : `A${tag.slice(1)}`;
    assert.equal(ring.verify(kid, "nonce|abc|example.test", other), false);
    assert.equal(ring.verify("k2", "nonce|abc|example.test", tag), false);
  });

  it("forgets everything when the keys change, even under the same key id", () => {
    const ring = new KeyRing([{ id: "k1", key: randomBytes(32) }]);
    const { kid, tag } = ring.sign("rr|data");
    assert.equal(ring.verify(kid, "rr|data", tag), true);
    ring.replace([{ id: "k1", key: randomBytes(32) }]);
    assert.equal(ring.verify(kid, "rr|data", tag), false);
  });

  it("another ring with the same key verifies by HMAC, and an evicted tag still verifies", () => {
    const key = randomBytes(32);
    const a = new KeyRing([{ id: "k1", key }]);
    const b = new KeyRing([{ id: "k1", key }]);
    const first = a.sign("first");
    for (let i = 0; i <= RECENT_TAGS; i++) a.sign(`filler ${i}`);
    assert.equal(a.verify(first.kid, "first", first.tag), true);
    assert.equal(b.verify(first.kid, "first", first.tag), true);
  });
});
