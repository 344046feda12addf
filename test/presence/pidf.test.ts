import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { checkPidf, composePidf } from "../../src/presence/pidf.js";
import { PublicationStore } from "../../src/presence/publication.js";
import { parseXml } from "../../src/base/index.js";
import { pidf } from "./fixtures.js";

const AOR = "alice@example.com";
const T0 = 5_000_000;
const PIDF = "application/pidf+xml";
/** The first `<basic>` of a document, as baresip's presence module reads it. */
const firstBasic = (doc: string) => /<basic>([^<]+)<\/basic>/.exec(doc)?.[1];

/** baresip 1.0's publication (its template, with its "unkown"/"unknown" status before registering). */
const baresip = (basic: string) => `<?xml version="1.0" encoding="UTF-8" standalone="no"?>\r
<presence xmlns="urn:ietf:params:xml:ns:pidf"\r
    xmlns:dm="urn:ietf:params:xml:ns:pidf:data-model"\r
    xmlns:rpid="urn:ietf:params:xml:ns:pidf:rpid"\r
    entity="sip:${AOR}">\r
  <dm:person id="p4159"><rpid:activities/></dm:person>\r
  <tuple id="t4109">\r
    <status>\r
      <basic>${basic}</basic>\r
    </status>\r
    <contact>sip:${AOR}</contact>\r
  </tuple>\r
</presence>\r
`;

describe("PIDF check and composition (RFC 3863, RFC 4479)", () => {
  it("a <basic> other than open or closed is refused with the reason", () => {
    assert.equal(checkPidf(baresip("open"), AOR), undefined);
    assert.match(checkPidf(baresip("unknown") , AOR) ?? "", /<basic> is "open" or "closed", not "unknown"/);
  });

  it("open tuples come first, newest publication first: a client reading the first <basic> sees the presentity reachable", () => {
    // An older closed device and a newer open one, then the reverse.
    const doc = composePidf(AOR, [pidf(AOR, "desk", "closed"), pidf(AOR, "phone", "open")]);
    assert.equal(firstBasic(doc), "open");
    assert.equal(firstBasic(composePidf(AOR, [pidf(AOR, "phone", "open"), pidf(AOR, "desk", "closed")])), "open");
    // Both tuples are there, well-formed.
    assert.match(doc, /id="desk"/);
    assert.match(doc, /id="phone"/);
    assert.ok(parseXml(doc).ok);
    // All closed: the first is the newest.
    const closed = composePidf(AOR, [pidf(AOR, "desk", "closed"), pidf(AOR, "phone", "closed")]);
    assert.ok(closed.indexOf('id="phone"') < closed.indexOf('id="desk"'));
  });

  it("the person is the newest publication's (its RPID activities are the latest said); clashing ids of older ones get a suffix", () => {
    const doc = composePidf(AOR, [pidf(AOR, "t1", "open", "busy"), pidf(AOR, "t1", "open", "away")]);
    assert.match(doc, /<rpid:away\/>/);
    assert.doesNotMatch(doc, /busy/);
    assert.equal((doc.match(/person /g) ?? []).length, 1);
    assert.match(doc, /<tuple [^>]*id="t1"/);
    assert.match(doc, /<tuple [^>]*id="t1-\d+"/);
  });

  it("a refresh keeps a publication's place; a modification makes it the newest", () => {
    const s = new PublicationStore();
    const a = s.publish(AOR, { expires: 600, body: pidf(AOR, "a", "closed", "away"), contentType: PIDF }, T0);
    const b = s.publish(AOR, { expires: 600, body: pidf(AOR, "b", "closed", "busy"), contentType: PIDF }, T0 + 1);
    assert.ok(a.status === 200 && b.status === 200);
    const order = (now: number) => s.publications(AOR, now).map((p) => /tuple id="(\w+)"/.exec(p.body)![1]).join();
    const r = s.publish(AOR, { ifMatch: a.etag, expires: 600 }, T0 + 2);
    assert.equal(order(T0 + 2), "a,b", "refresh: same order");
    assert.ok(r.status === 200);
    s.publish(AOR, { ifMatch: r.etag, body: pidf(AOR, "a", "closed", "away"), contentType: PIDF }, T0 + 3);
    assert.equal(order(T0 + 3), "b,a", "modification: newest last");
  });
});
