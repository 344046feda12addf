import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { PresenceNotifier } from "../../src/presence/notifier.js";
import { parseXcapDiffResources, xcapDiffDocument, XCAP_DIFF_NS } from "../../src/presence/xcap-diff.js";
import { parseXml } from "../../src/base/index.js";
import { testNet } from "../support/slot.js";

const ALICE = "alice@example.com";
const T0 = Date.parse("2026-06-01T12:00:00Z");
const ROOT = `http://${testNet(151)}.3:9290/xcap-root`;
const LISTS = `resource-lists/users/sip:${ALICE}/index`;
const RULES = `pres-rules/users/sip:${ALICE}/index`;
const body = (...uris: string[]) => `<?xml version="1.0"?><resource-lists xmlns="urn:ietf:params:xml:ns:resource-lists"><list>${uris.map((u) => `<entry uri="${u}"/>`).join("")}</list></resource-lists>`;

function setup() {
  const n = new PresenceNotifier({
    rules: () => undefined,
    xcapState: (aor) => (aor === ALICE ? { root: ROOT, documents: [{ sel: LISTS, etag: "e1" }, { sel: RULES, etag: "r1" }] } : undefined),
  });
  return n;
}

describe("xcap-diff (RFC 5875, RFC 5874)", () => {
  it("the user's own subscription is active at once and its first NOTIFY lists the documents with their tags; others are refused", () => {
    const n = setup();
    const s = n.subscribe({ id: "x1", event: "xcap-diff", presentity: ALICE, watcher: `sip:${ALICE}`, expires: 600 }, T0);
    assert.equal(s.answer.status, 200);
    const first = s.notifications[0]!;
    assert.equal(first.action.state, "active");
    assert.equal(first.body!.contentType, "application/xcap-diff+xml");
    const doc = parseXml(first.body!.text);
    assert.ok(doc.ok);
    const root = doc.doc.documentElement!;
    assert.equal(root.namespaceURI, XCAP_DIFF_NS);
    assert.equal(root.getAttribute("xcap-root"), `${ROOT}/`);
    const docs = [...root.getElementsByTagNameNS(XCAP_DIFF_NS, "document")].map((d) => `${d.getAttribute("sel")}=${d.getAttribute("new-etag")}`);
    assert.deepEqual(docs, [`${LISTS}=e1`, `${RULES}=r1`]);
    assert.equal(n.subscribe({ id: "x2", event: "xcap-diff", presentity: ALICE, watcher: "sip:bob@example.com", expires: 600 }, T0).answer.status, 403);
  });

  it("a write notifies the covering subscriptions with previous-etag and new-etag; a deletion with previous-etag only", () => {
    const n = setup();
    n.subscribe({ id: "all", event: "xcap-diff", presentity: ALICE, watcher: `sip:${ALICE}`, expires: 600 }, T0);
    n.subscribe({ id: "rules", event: "xcap-diff", presentity: ALICE, watcher: `sip:${ALICE}`, expires: 600, resources: [RULES] }, T0);
    n.subscribe({ id: "dir", event: "xcap-diff", presentity: ALICE, watcher: `sip:${ALICE}`, expires: 600, resources: [`resource-lists/users/sip:${ALICE}/`] }, T0);
    const out = n.xcapChanged(ALICE, ROOT, { sel: LISTS, previousEtag: "e1", newEtag: "e2" }, T0 + 1000);
    assert.deepEqual(out.map((o) => o.subscription.id).sort(), ["all", "dir"]);
    assert.match(out[0]!.body!.text, new RegExp(`<document sel="${LISTS}" previous-etag="e1" new-etag="e2"/>`));
    assert.equal(out[0]!.subscription.notifies, 2, "the NOTIFY sequence goes on");
    const gone = n.xcapChanged(ALICE, ROOT, { sel: RULES, previousEtag: "r1" }, T0 + 2000);
    assert.deepEqual(gone.map((o) => o.subscription.id).sort(), ["all", "rules"]);
    assert.match(gone[0]!.body!.text, /<document sel="[^"]+" previous-etag="r1"\/>/);
    // Presence watchers are not told.
    assert.equal(n.xcapChanged("bob@example.com", ROOT, { sel: "x/users/sip:bob@example.com/index", newEtag: "1" }, T0).length, 0);
  });

  it("SUBSCRIBE bodies: the user's own documents or directories, relative or absolute; another user's are 403; bad lists 400", () => {
    assert.deepEqual(parseXcapDiffResources(body(LISTS, `${ROOT}/${RULES}`, `rls-services/users/sip:${ALICE}/`), ALICE), { ok: true, resources: [LISTS, RULES, `rls-services/users/sip:${ALICE}/`] });
    const other = parseXcapDiffResources(body(`resource-lists/users/sip:bob@example.com/index`), ALICE);
    assert.ok(!other.ok && other.status === 403);
    for (const bad of ["<x/>", "not xml", body(), body("index"), body(...Array.from({ length: 33 }, () => LISTS))]) {
      const r = parseXcapDiffResources(bad, ALICE);
      assert.ok(!r.ok && r.status === 400, bad.slice(0, 60));
    }
  });

  it("the document escapes what it carries", () => {
    assert.match(xcapDiffDocument(ROOT, [{ sel: 'a/users/sip:x"y@example.com/index', newEtag: "<e>" }]), /sel="a\/users\/sip:x&quot;y@example.com\/index" new-etag="&lt;e&gt;"/);
  });
});
