import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { PresRules } from "../../src/presence/pres-rules.js";
import { rule, rules } from "./fixtures.js";

const compile = (text: string) => {
  const r = PresRules.parse(text);
  assert.ok(r instanceof PresRules, "error" in r ? r.error : "");
  return r;
};
const NOW = Date.parse("2026-06-01T12:00:00Z");
const judge = (r: PresRules, watcher: string, list?: (a: string) => string[] | undefined) => r.evaluate({ watcher, now: NOW, ...(list ? { list } : {}) }).handling;

describe("pres-rules (RFC 5025 over RFC 4745)", () => {
  it("identity/one matches the watcher exactly (scheme and domain case aside)", () => {
    const r = compile(rules(rule("a", `<identity><one id="sip:bob@example.com"/></identity>`, "allow")));
    assert.equal(judge(r, "sip:bob@EXAMPLE.com"), "allow");
    assert.equal(judge(r, "sip:carol@example.com"), "block", "no matching rule means block (RFC 5025 3.2.1)");
  });

  it("identity/many with except; the most permissive of the matching rules wins", () => {
    const r = compile(
      rules(
        rule("dom", `<identity><many domain="example.com"><except id="sip:eve@example.com"/></many></identity>`, "confirm") +
          rule("friends", `<identity><one id="sip:bob@example.com"/></identity>`, "allow") +
          rule("polite", `<identity><one id="sip:bob@example.com"/></identity>`, "polite-block"),
      ),
    );
    assert.equal(judge(r, "sip:bob@example.com"), "allow");
    assert.equal(judge(r, "sip:carol@example.com"), "confirm");
    assert.equal(judge(r, "sip:eve@example.com"), "block");
    assert.equal(judge(r, "sip:zed@other.org"), "block");
  });

  it("validity intervals, unknown conditions (sphere) never match, a rule without conditions matches all", () => {
    const r = compile(
      rules(
        rule("then", `<validity><from>2020-01-01T00:00:00Z</from><until>2021-01-01T00:00:00Z</until></validity>`, "allow") +
          rule("sphere", `<sphere value="work"/>`, "allow") +
          `<rule id="all"><actions><pr:sub-handling>polite-block</pr:sub-handling></actions></rule>`,
      ),
    );
    assert.equal(judge(r, "sip:bob@example.com"), "polite-block");
    const now = compile(rules(rule("now", `<validity><from>2026-01-01T00:00:00Z</from><until>2027-01-01T00:00:00Z</until></validity>`, "allow")));
    assert.equal(judge(now, "sip:bob@example.com"), "allow");
  });

  it("external-list: a watcher in a buddy list stored through XCAP is allowed", () => {
    const anchor = "http://xcap.example.com/xcap-root/resource-lists/users/sip:alice@example.com/index/~~/resource-lists/list%5b@name=%22friends%22%5d";
    const r = compile(rules(rule("buddies", `<pr:external-list><pr:entry anc="${anchor}"/></pr:external-list>`, "allow")));
    const lists = (a: string) => (a === anchor ? ["sip:bob@example.com", "sip:carol@example.com"] : undefined);
    assert.equal(judge(r, "sip:carol@example.com", lists), "allow");
    assert.equal(judge(r, "sip:dave@example.com", lists), "block");
    assert.equal(judge(r, "sip:carol@example.com"), "block", "a list the caller could not read matches nobody");
  });

  it("a document that is not a ruleset is refused with a reason", () => {
    for (const bad of ["<ruleset", "<other xmlns='urn:x'/>"]) {
      const r = PresRules.parse(bad);
      assert.ok(!(r instanceof PresRules) && r.error.length > 0);
    }
  });
});
