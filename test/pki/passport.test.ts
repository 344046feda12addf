import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { matchAnyPassport, matchPassport, parsePassport, PassportError } from "../../src/pki/index.js";

describe("passports", () => {
  const subject = { CN: "node12.eu", O: "example", OU: "node" };

  it("parses ATTR=pattern lists", () => {
    assert.deepEqual(parsePassport(" O=example , OU=manager,CN=* "), { O: "example", OU: "manager", CN: "*" });
  });

  it("matches exact values, *, prefix* and *suffix; every named attribute must match", () => {
    const cases: Array<[string, boolean]> = [
      ["O=example", true],
      ["O=example,OU=node", true],
      ["O=example,OU=manager", false],
      ["CN=*", true],
      ["CN=node*", true],
      ["CN=*.eu", true],
      ["CN=*.us", false],
      ["CN=mgr*", false],
      ["L=*", false],
    ];
    for (const [text, expected] of cases) assert.equal(matchPassport(parsePassport(text), subject), expected, text);
  });

  it("matchAnyPassport accepts when one of the passports matches", () => {
    assert.equal(matchAnyPassport([parsePassport("OU=manager"), parsePassport("OU=node")], subject), true);
    assert.equal(matchAnyPassport([parsePassport("OU=manager")], subject), false);
    assert.equal(matchAnyPassport([], subject), false);
  });

  it("refuses malformed passports with a clear error", () => {
    for (const bad of ["", "O", "=x", "O=", "O=a*b", "O=*a*", "O=x,O=y", "1X=a"]) {
      assert.throws(() => parsePassport(bad), (err: unknown) => err instanceof PassportError && err.code === "THOR_PKI_PASSPORT", bad);
    }
  });
});
