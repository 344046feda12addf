import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { formatSubject, matchAnyPassport, matchPassport, matchPattern, parsePassport, PassportError, PkiError } from "../../src/pki/index.js";

describe("passports", () => {
  const subject = { CN: "node12.eu", O: "example", OU: "node" };

  it("parses comma-separated ATTR=pattern lists, trimming blanks", () => {
    const cases: Array<[string, Record<string, string>]> = [
      [" O=example , OU=manager,CN=* ", { O: "example", OU: "manager", CN: "*" }],
      ["O=sipthor,OU=manager,CN=*", { O: "sipthor", OU: "manager", CN: "*" }],
      ["CN = node* ", { CN: "node*" }],
      ["CN=*.eu", { CN: "*.eu" }],
      ["O=a=b", { O: "a=b" }],
    ];
    for (const [text, expected] of cases) assert.deepEqual(parsePassport(text), expected, text);
  });

  it("matches exact values, *, prefix* and *suffix; every named attribute must be present and match", () => {
    const cases: Array<[string, boolean]> = [
      ["O=example", true],
      ["O=Example", false],
      ["O=example,OU=node", true],
      ["O=example,OU=manager", false],
      ["CN=*", true],
      ["CN=node*", true],
      ["CN=node12.eu*", true],
      ["CN=*.eu", true],
      ["CN=*node12.eu", true],
      ["CN=*.us", false],
      ["CN=mgr*", false],
      ["L=*", false],
      ["O=example,L=*", false],
    ];
    for (const [text, expected] of cases) assert.equal(matchPassport(parsePassport(text), subject), expected, text);
  });

  it("matchPattern: exactly the four forms", () => {
    const cases: Array<[string, string, boolean]> = [
      ["abc", "abc", true],
      ["abc", "abcd", false],
      ["*", "", true],
      ["ab*", "ab", true],
      ["ab*", "a", false],
      ["*bc", "abc", true],
      ["*bc", "abcd", false],
    ];
    for (const [pattern, value, expected] of cases) assert.equal(matchPattern(pattern, value), expected, `${pattern} ~ ${value}`);
  });

  it("matchAnyPassport accepts when one of the passports matches, and an empty list matches nothing", () => {
    assert.equal(matchAnyPassport([parsePassport("OU=manager"), parsePassport("OU=node")], subject), true);
    assert.equal(matchAnyPassport([parsePassport("OU=manager")], subject), false);
    assert.equal(matchAnyPassport([], subject), false);
  });

  it("refuses malformed passports with PassportError THOR_PKI_PASSPORT", () => {
    const bad = ["", " ", ",", "O", "=x", "O=", "O= ", "O=x,", ",O=x", "O=x,,OU=y", "O=a*b", "O=*a*", "O=**", "O=a**", "O=x,O=y", "1X=a", "O U=x", "1.2.3=x"];
    for (const text of bad) {
      assert.throws(
        () => parsePassport(text),
        (err: unknown) => err instanceof PassportError && err instanceof PkiError && (err as PkiError).code === "THOR_PKI_PASSPORT",
        JSON.stringify(text),
      );
    }
  });

  it("formatSubject writes CN=..,O=..,OU=.. in the subject's order", () => {
    assert.equal(formatSubject(subject), "CN=node12.eu,O=example,OU=node");
    assert.equal(formatSubject(parsePassport("O=sipthor,OU=manager")), "O=sipthor,OU=manager");
  });
});
