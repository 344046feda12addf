import { describe, it } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { MAX_KEY_LENGTH, normalizeKey } from "../../src/overlay/index.js";

describe("ring key normalization (user@domain)", () => {
  const table: Array<[input: string, key: string]> = [
    ["alice@example.com", "alice@example.com"],
    ["  alice@example.com\t", "alice@example.com"],
    ["sip:alice@example.com", "alice@example.com"],
    ["SIP:alice@example.com", "alice@example.com"],
    ["sips:alice@EXAMPLE.com:5061", "alice@example.com"],
    ["tel:+4930123@example.com", "+4930123@example.com"],
    ["sip:alice@example.com;transport=tcp", "alice@example.com"],
    ["sip:alice@example.com:5060;transport=tcp;lr", "alice@example.com"],
    ["sip:alice@example.com?subject=x&priority=urgent", "alice@example.com"],
    ["sip:alice@example.com;maddr=10.0.0.1?subject=x", "alice@example.com"],
    ["<sip:alice@example.com>", "alice@example.com"],
    ["Alice <sip:alice@example.com>", "alice@example.com"],
    ['"Alice" <sip:alice@Example.Com>;tag=1', "alice@example.com"],
    ['"Alice <the \\"boss\\">" <sips:alice@example.com:5061>', "alice@example.com"],
    ["sip:alice:secret@example.com", "alice@example.com"],
    ["Alice@example.com", "Alice@example.com"],
    ["sip:Alice@EXAMPLE.COM", "Alice@example.com"],
    ["sip:+4930123;phone-context=example.com@example.com;user=phone", "+4930123;phone-context=example.com@example.com"],
    ["sip:bob@[2001:db8::1]:5060", "bob@[2001:db8::1]"],
    ["sip:bob@[2001:DB8::1]", "bob@[2001:db8::1]"],
    ["bob@10.0.0.1:5060", "bob@10.0.0.1"],
    ["日本@example.jp", "日本@example.jp"],
  ];

  for (const [input, key] of table) {
    it(`${JSON.stringify(input)} → ${key}`, () => assert.deepEqual(normalizeKey(input), { ok: true, key }));
  }

  const refused: Array<[input: string, reason: RegExp]> = [
    ["", /not user@domain/],
    ["alice", /not user@domain/],
    ["sip:alice", /not user@domain/],
    ["tel:+4930123", /not user@domain/],
    ["@example.com", /empty user/],
    ["sip:@example.com", /empty user/],
    ["alice@", /empty domain/],
    ["sip:alice@;transport=tcp", /empty domain/],
    ["alice@:5060", /empty domain/],
    ["alice@example.com:", /empty port/],
    ["alice@example.com:http", /invalid port/],
    ["alice@example.com:99999", /invalid port/],
    ["sip:alice@ex ample.com", /invalid character in the domain/],
    ["al ice@example.com", /whitespace/],
    ["al\u0000ice@example.com", /control character/],
    ["alice@b@example.com", /invalid character in the domain/],
    ["<sip:alice@example.com", /unterminated </],
    ["sip:alice@example.com>", /unexpected >/],
    ['"Alice <sip:alice@example.com>', /unterminated quoted display name/],
    ['"Alice" sip:alice@example.com', /expected <uri>/],
    ["bob@[2001:db8::1", /unterminated IPv6/],
    ["bob@[2001:db8::1]5060", /after the IPv6 reference/],
    ["bob@[not-v6]", /invalid IPv6/],
    [`${"a".repeat(MAX_KEY_LENGTH)}@x.com`, /longer than/],
  ];

  for (const [input, reason] of refused) {
    it(`refuses ${JSON.stringify(input.length > 40 ? `${input.slice(0, 40)}...` : input)}`, () => {
      const r = normalizeKey(input);
      assert.equal(r.ok, false);
      assert.match(r.ok ? "" : r.reason, reason);
    });
  }

  it("error reasons are printable ASCII, whatever the input", () => {
    const r = normalizeKey("\u0000\u001b[31m\u2028bogus");
    assert.equal(r.ok, false);
    assert.match(r.ok ? "" : r.reason, /^[\x20-\x7e]*$/);
  });

  it("the fast path for keys already in normal form agrees with the general parse (fuzz)", () => {
    const chars = fc.constantFrom(..."abcXYZ019._+-!$&'()*,=~%/@:;?<>\" [];é".split(""));
    fc.assert(
      fc.property(fc.string({ unit: chars, maxLength: 30 }), (s) => {
        // A leading space is trimmed by the general parse and never matches the fast path.
        const fast = normalizeKey(s);
        const general = normalizeKey(` ${s}`);
        assert.equal(fast.ok, general.ok);
        if (fast.ok) assert.deepEqual(fast, general);
      }),
      { numRuns: 300, interruptAfterTimeLimit: 3000 },
    );
    for (let i = 0; i < 1000; i++) assert.deepEqual(normalizeKey(`user${i}@example.com`), normalizeKey(` user${i}@example.com`));
  });

  it("never throws, and is idempotent on what it accepts (fuzz)", () => {
    const uriish = fc
      .tuple(
        fc.constantFrom("", "sip:", "SIPS:", "tel:", '"A b" <sip:', "<"),
        fc.string({ unit: "binary", maxLength: 12 }),
        fc.constantFrom("@", "@@", ""),
        fc.string({ maxLength: 16 }),
        fc.constantFrom("", ":5060", ";transport=tcp", "?x=y", ">", ">;tag=1"),
      )
      .map((parts) => parts.join(""));
    fc.assert(
      fc.property(fc.oneof(uriish, fc.string({ unit: "binary", maxLength: 60 })), (input) => {
        const r = normalizeKey(input);
        if (r.ok) {
          assert.deepEqual(normalizeKey(r.key), r, "normalizing a key again changes nothing");
          assert.ok(r.key.length <= MAX_KEY_LENGTH);
          const at = r.key.indexOf("@");
          assert.ok(at > 0 && at < r.key.length - 1);
        } else {
          assert.match(r.reason, /^[\x20-\x7e]+$/);
        }
      }),
      { numRuns: 300, interruptAfterTimeLimit: 3000 },
    );
  });
});
