import { describe, it } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { parseNodeSelector, selectElements } from "../../src/xcap/node-selector.js";
import { parseXml } from "../../src/base/index.js";
import { BUDDIES, RL_NS } from "./fixtures.js";

const doc = () => {
  const p = parseXml(BUDDIES);
  assert.ok(p.ok);
  return p.doc;
};
const sel = (text: string, ns = new Map<string, string>()) => {
  const r = parseNodeSelector(text, ns, RL_NS);
  assert.ok(r.ok, r.ok ? "" : r.reason);
  return r.selector;
};

describe("XCAP node selectors (RFC 4825 6.3)", () => {
  it("selects by name, position and attribute test, in the usage's default namespace", () => {
    const d = doc();
    assert.equal(selectElements(d, sel("resource-lists/list[@name=\"friends\"]/entry[2]").steps)[0]?.getAttribute("uri"), "sip:carol@example.com");
    assert.equal(selectElements(d, sel("resource-lists/list[1]/entry[1][@uri='sip:bob@example.com']").steps).length, 1);
    assert.equal(selectElements(d, sel("resource-lists/list[1]/entry[2][@uri='sip:bob@example.com']").steps).length, 0, "position first, then the attribute test");
    assert.equal(selectElements(d, sel("resource-lists/*[2]").steps)[0]?.getAttribute("name"), "work");
    assert.equal(selectElements(d, sel("resource-lists/list").steps).length, 2, "several matches are returned (XCAP then answers 404)");
  });

  it("resolves prefixes through the xmlns() query and refuses unbound ones", () => {
    const d = doc();
    const ns = new Map([["rl", RL_NS]]);
    assert.equal(selectElements(d, sel("rl:resource-lists/rl:list[@name=\"work\"]", ns).steps).length, 1);
    const r = parseNodeSelector("x:resource-lists", new Map(), RL_NS);
    assert.equal(r.ok, false);
    assert.match(r.ok ? "" : r.reason, /prefix "x" is not bound/);
  });

  it("an unprefixed name does not match an element of another namespace", () => {
    const d = doc();
    const r = parseNodeSelector("resource-lists/list", new Map(), "urn:other");
    assert.ok(r.ok);
    assert.equal(selectElements(d, r.selector.steps).length, 0);
  });

  it("ends with an attribute or namespace selector only after an element step", () => {
    assert.deepEqual(sel("resource-lists/list[1]/@name").terminal, { kind: "attribute", name: { ns: null, local: "name" } });
    assert.deepEqual(sel("resource-lists/namespace::*").terminal, { kind: "namespace" });
    for (const bad of ["@name", "resource-lists/@a/list", "resource-lists/namespace::*/list"]) assert.equal(parseNodeSelector(bad, new Map(), RL_NS).ok, false, bad);
  });

  it("keeps a quoted '/' or ']' inside an attribute value", () => {
    const s = sel('resource-lists/list[@name="a/b]c"]');
    assert.equal(s.steps[1]?.attr?.value, "a/b]c");
  });

  it("refuses malformed selectors with a reason", () => {
    for (const bad of ["", "a//b", "a[0]", "a[@x=unquoted]", "a[\"", "a[1][2]", "a[@x='1'][2]", "1abc", "a/b[1", `${"a/".repeat(70)}a`, "a".repeat(5000)]) {
      const r = parseNodeSelector(bad, new Map(), RL_NS);
      assert.equal(r.ok, false, bad.slice(0, 40));
      assert.ok(!r.ok && r.reason.length > 0);
    }
  });

  it("never throws on arbitrary input (fuzz)", () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 200 }), (s) => {
        const r = parseNodeSelector(s, new Map([["p", "urn:p"]]), RL_NS);
        if (r.ok) selectElements(doc(), r.selector.steps);
      }),
      { numRuns: 2000, interruptAfterTimeLimit: 4000 },
    );
  });
});
