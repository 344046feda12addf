import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { XcapConflictError, XcapError, type XcapConflict } from "../../src/xcap/errors.js";
import { checkDocument, deleteNode, MIME_ATTRIBUTE, MIME_ELEMENT, parseSelector, putNode, readNode } from "../../src/xcap/operations.js";
import { usageOf, type ApplicationUsage } from "../../src/xcap/usages.js";
import { BUDDIES, CP_NS, RL_NS, RULES } from "./fixtures.js";

const RL = usageOf("resource-lists")!;
const PRES = usageOf("pres-rules")!;
const sel = (text: string, usage: ApplicationUsage = RL, ns = new Map<string, string>()) => parseSelector(text, ns, usage);

function conflictOf(fn: () => unknown): XcapConflict {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof XcapConflictError, `expected a 409, got ${String(err)}`);
    return err.conflict!;
  }
  assert.fail("expected a 409");
}

describe("XCAP operations (RFC 4825 7-8)", () => {
  it("GET of an element, an attribute and the namespace bindings in scope", () => {
    const el = readNode(BUDDIES, sel('resource-lists/list[@name="friends"]/entry[1]'));
    assert.equal(el.contentType, MIME_ELEMENT);
    assert.match(el.body, /^<entry [^>]*uri="sip:bob@example.com"[^>]*><display-name>Bob<\/display-name><\/entry>$/);
    const att = readNode(BUDDIES, sel('resource-lists/list[@name="friends"]/entry[2]/@uri'));
    assert.deepEqual(att, { body: "sip:carol@example.com", contentType: MIME_ATTRIBUTE });
    const ns = readNode(RULES, sel("ruleset/rule/namespace::*", PRES));
    assert.match(ns.body, /^<cr:rule /);
    assert.match(ns.body, new RegExp(`xmlns:cr="${CP_NS}"`));
    assert.match(ns.body, /xmlns:pr="urn:ietf:params:xml:ns:pres-rules"/);
  });

  it("a selector matching several elements or none is 404", () => {
    for (const s of ["resource-lists/list", "resource-lists/list[3]", 'resource-lists/list[1]/@nope']) {
      assert.throws(() => readNode(BUDDIES, sel(s)), (e: unknown) => e instanceof XcapError && e.status === 404, s);
    }
  });

  it("PUT of a new element appends it; with a position it becomes that position (201)", () => {
    const a = putNode(BUDDIES, RL, sel('resource-lists/list[@name="friends"]/entry[@uri="sip:dave@example.com"]'), '<entry uri="sip:dave@example.com"/>', MIME_ELEMENT);
    assert.equal(a.created, true);
    assert.equal(readNode(a.text, sel('resource-lists/list[1]/entry[3]/@uri')).body, "sip:dave@example.com");
    const b = putNode(BUDDIES, RL, sel('resource-lists/list[1]/entry[1]'), '<entry uri="sip:zed@example.com"/>', MIME_ELEMENT);
    assert.equal(b.created, false, "entry[1] exists: it is replaced");
    const c = putNode(BUDDIES, RL, sel("resource-lists/list[1]/entry[3]"), '<entry uri="sip:eve@example.com"/>', MIME_ELEMENT);
    assert.equal(c.created, true);
    assert.equal(readNode(c.text, sel("resource-lists/list[1]/entry[3]/@uri")).body, "sip:eve@example.com");
  });

  it("the inserted element must be what the URI selects afterwards (cannot-insert)", () => {
    assert.equal(conflictOf(() => putNode(BUDDIES, RL, sel('resource-lists/list[1]/entry[@uri="sip:x@example.com"]'), '<entry uri="sip:y@example.com"/>', MIME_ELEMENT)).tag, "cannot-insert");
    assert.equal(conflictOf(() => putNode(BUDDIES, RL, sel("resource-lists/list[1]/entry[5]"), '<entry uri="sip:y@example.com"/>', MIME_ELEMENT)).tag, "cannot-insert");
  });

  it("an element whose parent does not exist is <no-parent> naming the closest ancestor", () => {
    const c = conflictOf(() => putNode(BUDDIES, RL, sel('resource-lists/list[@name="nope"]/entry'), '<entry uri="sip:y@example.com"/>', MIME_ELEMENT));
    assert.equal(c.tag, "no-parent");
    assert.equal(c.tag === "no-parent" && c.ancestor, "resource-lists");
  });

  it("a body that is not one element is <not-xml-frag>; a duplicate is <uniqueness-failure> with an alternative", () => {
    for (const body of ["<entry uri='sip:a@b.c'/><entry uri='sip:d@e.f'/>", "text", "<entry", "<!DOCTYPE x><entry/>"])
      assert.equal(conflictOf(() => putNode(BUDDIES, RL, sel("resource-lists/list[2]/entry"), body, MIME_ELEMENT)).tag, "not-xml-frag", body);
    const c = conflictOf(() => putNode(BUDDIES, RL, sel("resource-lists/list[1]/entry[3]"), '<entry uri="sip:bob@example.com"/>', MIME_ELEMENT));
    assert.equal(c.tag, "uniqueness-failure");
    assert.deepEqual(c.tag === "uniqueness-failure" && c.exists, [{ field: "resource-lists/list/entry/@uri", altValues: ["sip:bob@example.com-2"] }]);
  });

  it("PUT and DELETE of an attribute; a value with '<' is <not-xml-att-value>", () => {
    const a = putNode(BUDDIES, RL, sel("resource-lists/list[2]/@name"), "office &amp; home", MIME_ATTRIBUTE);
    assert.equal(readNode(a.text, sel("resource-lists/list[2]/@name")).body, "office &amp; home");
    assert.equal(a.created, false);
    assert.equal(conflictOf(() => putNode(BUDDIES, RL, sel("resource-lists/list[2]/@name"), "a<b", MIME_ATTRIBUTE)).tag, "not-xml-att-value");
    const d = deleteNode(BUDDIES, RL, sel("resource-lists/list[2]/@name"));
    assert.throws(() => readNode(d, sel("resource-lists/list[2]/@name")), (e: unknown) => e instanceof XcapError && e.status === 404);
    assert.equal(conflictOf(() => deleteNode(BUDDIES, RL, sel("resource-lists/list[1]/entry[1]/@uri"))).tag, "schema-validation-error", "an entry needs its uri: the usage check runs after every change");
  });

  it("DELETE that would let the same URI select another element is <cannot-delete> (RFC 4825 8.2.5)", () => {
    assert.equal(conflictOf(() => deleteNode(BUDDIES, RL, sel("resource-lists/list[1]/entry[1]"))).tag, "cannot-delete");
    const ok = deleteNode(BUDDIES, RL, sel('resource-lists/list[1]/entry[@uri="sip:bob@example.com"]'));
    assert.throws(() => readNode(ok, sel('resource-lists/list[1]/entry[@uri="sip:bob@example.com"]')), (e: unknown) => e instanceof XcapError && e.status === 404);
    assert.equal(conflictOf(() => deleteNode(BUDDIES, RL, sel("resource-lists"))).tag, "cannot-delete");
  });

  it("namespace bindings are read-only (405) and the element body type is checked (415)", () => {
    assert.throws(() => putNode(BUDDIES, RL, sel("resource-lists/namespace::*"), "<x/>", MIME_ELEMENT), (e: unknown) => e instanceof XcapError && e.status === 405);
    assert.throws(() => putNode(BUDDIES, RL, sel("resource-lists/list[2]"), "<list/>", "application/xml"), (e: unknown) => e instanceof XcapError && e.status === 415);
  });
});

describe("application usages: checks beyond well-formedness", () => {
  it("accepts the fixtures", () => {
    checkDocument(BUDDIES, RL);
    checkDocument(RULES, PRES);
  });

  it("refuses a wrong root element or namespace", () => {
    assert.equal(conflictOf(() => checkDocument(`<resource-lists xmlns="urn:wrong"/>`, RL)).tag, "schema-validation-error");
    assert.equal(conflictOf(() => checkDocument(RULES, RL)).tag, "schema-validation-error");
    assert.equal(conflictOf(() => checkDocument("<resource-lists", RL)).tag, "not-well-formed");
  });

  it("pres-rules: unique rule ids, a known sub-handling, identity/one with an id", () => {
    const rule = (id: string, sh = "allow") => `<rule id="${id}"><actions><sub-handling xmlns="urn:ietf:params:xml:ns:pres-rules">${sh}</sub-handling></actions></rule>`;
    const doc = (...rules: string[]) => `<ruleset xmlns="${CP_NS}">${rules.join("")}</ruleset>`;
    checkDocument(doc(rule("a"), rule("b", "polite-block")), PRES);
    assert.equal(conflictOf(() => checkDocument(doc(rule("a"), rule("a")), PRES)).tag, "uniqueness-failure");
    assert.equal(conflictOf(() => checkDocument(doc(rule("a", "maybe")), PRES)).tag, "schema-validation-error");
    assert.equal(conflictOf(() => checkDocument(doc(`<rule id="1x"/>`), PRES)).tag, "schema-validation-error");
    assert.equal(conflictOf(() => checkDocument(doc(`<rule id="r"><conditions><identity><one/></identity></conditions></rule>`), PRES)).tag, "schema-validation-error");
  });

  it("rls-services: unique service uris, one list or resource-list each, packages", () => {
    const RS = usageOf("rls-services")!;
    const svc = (uri: string, inner = `<resource-list>http://x/y</resource-list>`) => `<service uri="${uri}">${inner}<packages><package>presence</package></packages></service>`;
    const doc = (...s: string[]) => `<rls-services xmlns="urn:ietf:params:xml:ns:rls-services" xmlns:rl="${RL_NS}">${s.join("")}</rls-services>`;
    checkDocument(doc(svc("sip:a@x.y"), svc("sip:b@x.y", `<list name="l"><rl:entry uri="sip:c@x.y"/></list>`)), RS);
    assert.equal(conflictOf(() => checkDocument(doc(svc("sip:a@x.y"), svc("sip:a@x.y")), RS)).tag, "uniqueness-failure");
    assert.equal(conflictOf(() => checkDocument(doc(svc("sip:a@x.y", "")), RS)).tag, "schema-validation-error");
    assert.equal(conflictOf(() => checkDocument(doc(svc("sip:b@x.y", `<list><rl:entry uri="sip:c@x.y"/><rl:entry uri="sip:c@x.y"/></list>`)), RS)).tag, "uniqueness-failure");
  });

  it("pidf-manipulation: an entity, unique tuple ids, a status in every tuple", () => {
    const PIDF = usageOf("pidf-manipulation")!;
    const t = (id: string, status = "<status><basic>open</basic></status>") => `<tuple id="${id}">${status}</tuple>`;
    const doc = (entity: string, ...tuples: string[]) => `<presence xmlns="urn:ietf:params:xml:ns:pidf"${entity}>${tuples.join("")}</presence>`;
    checkDocument(doc(' entity="pres:alice@example.com"', t("a"), t("b")), PIDF);
    assert.equal(conflictOf(() => checkDocument(doc("", t("a")), PIDF)).tag, "schema-validation-error");
    assert.equal(conflictOf(() => checkDocument(doc(' entity="pres:a@b.c"', t("a"), t("a")), PIDF)).tag, "uniqueness-failure");
    assert.equal(conflictOf(() => checkDocument(doc(' entity="pres:a@b.c"', t("a", "")), PIDF)).tag, "schema-validation-error");
  });

  it("refuses nesting deeper than the bound", () => {
    const deep = `<resource-lists xmlns="${RL_NS}">${"<list>".repeat(40)}${"</list>".repeat(40)}</resource-lists>`;
    assert.equal(conflictOf(() => checkDocument(deep, RL)).tag, "constraint-failure");
  });
});

describe("cost bounds", () => {
  it("refuses a document with more markup than the bound before building its DOM", () => {
    const many = `<resource-lists xmlns="${RL_NS}"><list name="a">${"<list/>".repeat(5000)}</list></resource-lists>`;
    const c = conflictOf(() => checkDocument(many, RL));
    assert.equal(c.tag, "constraint-failure");
    assert.match(c.phrase ?? "", /at most 4000 elements/);
  });
});
