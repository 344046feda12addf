import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { PresenceNotifier, type Notification } from "../../src/presence/notifier.js";
import { PresRules } from "../../src/presence/pres-rules.js";
import { parseXml } from "../../src/base/index.js";
import { subscriptionStateHeader } from "../../src/presence/subscription.js";
import { pidf, rule, rules } from "./fixtures.js";

const ALICE = "alice@example.com";
const T0 = Date.parse("2026-06-01T12:00:00Z");
const PIDF = "application/pidf+xml";

function setup(ruleText?: string) {
  let compiled = ruleText ? (PresRules.parse(ruleText) as PresRules) : undefined;
  const n = new PresenceNotifier({ rules: (aor) => (aor === ALICE ? compiled : undefined), limits: { maxWatchers: 3, maxSubscriptionsPerWatcher: 2 } });
  return { n, setRules: (t: string) => (compiled = PresRules.parse(t) as PresRules) };
}
const header = (x: Notification) => subscriptionStateHeader(x.action);

describe("presence notifier (RFC 6665 + RFC 3856 + RFC 3903)", () => {
  it("489 for an unknown event package", () => {
    const { n } = setup();
    assert.equal(n.subscribe({ id: "s", event: "dialog", presentity: ALICE, watcher: "sip:bob@example.com" }, T0).answer.status, 489);
  });

  it("an allowed watcher gets the offline document first, then the composition of every device's publication", () => {
    const { n } = setup(rules(rule("b", `<identity><one id="sip:bob@example.com"/></identity>`, "allow")));
    const s = n.subscribe({ id: "s1", event: "presence", presentity: ALICE, watcher: "sip:bob@example.com", expires: 600 }, T0);
    assert.equal(s.answer.status, 200);
    assert.equal(s.notifications.length, 1);
    assert.equal(header(s.notifications[0]!), "active;expires=600");
    assert.match(s.notifications[0]!.body!.text, /<tuple id="offline"><status><basic>closed<\/basic>/);
    const p1 = n.publish(ALICE, { body: pidf(ALICE, "phone", "open", "busy"), contentType: PIDF, expires: 600 }, T0 + 1000);
    assert.equal(p1.answer.status, 200);
    assert.equal(p1.notifications.length, 1);
    const p2 = n.publish(ALICE, { body: pidf(ALICE, "laptop", "closed", "away"), contentType: PIDF, expires: 600 }, T0 + 2000);
    const doc = p2.notifications[0]!.body!.text;
    assert.match(doc, /<tuple [^>]*id="phone"/);
    assert.match(doc, /<tuple [^>]*id="laptop"/);
    assert.match(doc, /<rpid:away\/>/, "RPID passes through: the person of the newest publication");
    assert.doesNotMatch(doc, /<rpid:busy\/>/, "one person: the older one is left out (pidf.ts composition policy)");
    assert.ok(doc.indexOf('id="phone"') < doc.indexOf('id="laptop"'), "the open tuple first");
    assert.match(doc, /entity="pres:alice@example.com"/);
    const parsed = parseXml(doc);
    assert.ok(parsed.ok, `the composed document is well-formed: ${parsed.ok ? "" : parsed.reason}`);
    assert.equal(parsed.doc.getElementsByTagNameNS("urn:ietf:params:xml:ns:pidf:rpid", "away").length, 1, "RPID elements keep their namespace");
  });

  it("a confirm watcher waits pending with a neutral document; a rules change through XCAP activates it", () => {
    const { n, setRules } = setup(rules(rule("all", `<identity><many/></identity>`, "confirm")));
    n.publish(ALICE, { body: pidf(ALICE, "phone", "open"), contentType: PIDF }, T0);
    const s = n.subscribe({ id: "s1", event: "presence", presentity: ALICE, watcher: "sip:carol@example.com", expires: 600 }, T0);
    assert.equal(header(s.notifications[0]!), "pending;expires=600");
    assert.match(s.notifications[0]!.body!.text, /closed/, "pending watchers learn nothing");
    assert.equal(n.publish(ALICE, { body: pidf(ALICE, "laptop", "open"), contentType: PIDF }, T0 + 1).notifications.length, 0, "pending watchers get no state NOTIFYs");
    setRules(rules(rule("carol", `<identity><one id="sip:carol@example.com"/></identity>`, "allow")));
    const changed = n.rulesChanged(ALICE, T0 + 10_000);
    assert.equal(changed.length, 1);
    assert.equal(header(changed[0]!), "active;expires=590");
    assert.match(changed[0]!.body!.text, /id="phone"/);
  });

  it("block is 403; polite-block is accepted with a neutral document that never changes", () => {
    const { n } = setup(rules(rule("eve", `<identity><one id="sip:eve@example.com"/></identity>`, "polite-block")));
    assert.equal(n.subscribe({ id: "b", event: "presence", presentity: ALICE, watcher: "sip:mallory@example.com" }, T0).answer.status, 403);
    const s = n.subscribe({ id: "p", event: "presence", presentity: ALICE, watcher: "sip:eve@example.com" }, T0);
    assert.equal(s.answer.status, 200);
    const p = n.publish(ALICE, { body: pidf(ALICE, "phone", "open"), contentType: PIDF }, T0 + 1);
    assert.equal(p.notifications.length, 1);
    assert.match(p.notifications[0]!.body!.text, /<tuple id="offline">/);
  });

  it("subscriptions and publications expire; the watcher gets a final NOTIFY with reason timeout", () => {
    const { n } = setup(rules(rule("b", `<identity><one id="sip:bob@example.com"/></identity>`, "allow")));
    n.subscribe({ id: "s1", event: "presence", presentity: ALICE, watcher: "sip:bob@example.com", expires: 120 }, T0);
    n.publish(ALICE, { body: pidf(ALICE, "phone", "open"), contentType: PIDF, expires: 60 }, T0);
    const pubGone = n.tick(T0 + 60_000);
    assert.equal(pubGone.length, 1);
    assert.match(pubGone[0]!.body!.text, /<tuple id="offline">/, "no publication left: the offline document");
    const end = n.tick(T0 + 120_000);
    assert.equal(end.length, 1);
    assert.equal(header(end[0]!), "terminated;reason=timeout");
    assert.equal(end[0]!.body, undefined);
    assert.equal(n.subscriptionCount, 0);
  });

  it("presence.winfo: only the presentity may watch its watchers, and sees them come and go", () => {
    const { n } = setup(rules(rule("all", `<identity><many/></identity>`, "confirm")));
    assert.equal(n.subscribe({ id: "w0", event: "presence.winfo", presentity: ALICE, watcher: "sip:bob@example.com" }, T0).answer.status, 403);
    const w = n.subscribe({ id: "w1", event: "presence.winfo", presentity: ALICE, watcher: "sip:alice@example.com", expires: 600 }, T0);
    assert.equal(w.answer.status, 200);
    assert.match(w.notifications[0]!.body!.text, /<watcherinfo xmlns="urn:ietf:params:xml:ns:watcherinfo" version="0" state="full"><watcher-list resource="sip:alice@example.com" package="presence"><\/watcher-list>/);
    const s = n.subscribe({ id: "s1", event: "presence", presentity: ALICE, watcher: "sip:carol@example.com", expires: 600 }, T0 + 1);
    assert.equal(s.notifications.length, 2, "the watcher's NOTIFY and the owner's winfo NOTIFY");
    assert.match(s.notifications[1]!.body!.text, /version="1".*<watcher id="s1" status="pending" event="subscribe" expiration="600">sip:carol@example.com<\/watcher>/);
    const gone = n.refresh("s1", 0, T0 + 2);
    assert.equal(header(gone.notifications[0]!), "terminated;reason=timeout");
    assert.match(gone.notifications[1]!.body!.text, /version="2"/);
  });

  it("bounds watchers per presentity and subscriptions per watcher (403)", () => {
    const { n } = setup(rules(rule("all", `<identity><many/></identity>`, "allow")));
    for (const i of [1, 2, 3]) assert.equal(n.subscribe({ id: `s${i}`, event: "presence", presentity: ALICE, watcher: `sip:w${i}@example.com` }, T0).answer.status, 200);
    const over = n.subscribe({ id: "s4", event: "presence", presentity: ALICE, watcher: "sip:w4@example.com" }, T0).answer;
    assert.ok(over.status === 403 && /most watchers/.test(over.reason));
    for (const p of ["bob@example.com", "carol@example.com"]) n.subscribe({ id: `x-${p}`, event: "presence", presentity: p, watcher: "sip:zed@example.com" }, T0);
    const many = n.subscribe({ id: "x3", event: "presence", presentity: "dave@example.com", watcher: "sip:zed@example.com" }, T0).answer;
    assert.ok(many.status === 403 && /at most 2 subscriptions/.test(many.reason));
  });

  it("a replica adopting the presentity's entry continues: the next PUBLISH reaches the watcher without re-subscribing", () => {
    const text = rules(rule("b", `<identity><one id="sip:bob@example.com"/></identity>`, "allow"));
    const primary = setup(text).n;
    const replica = setup(text).n;
    primary.subscribe({ id: "s1", event: "presence", presentity: ALICE, watcher: "sip:bob@example.com", expires: 600 }, T0);
    const pub = primary.publish(ALICE, { body: pidf(ALICE, "phone", "open"), contentType: PIDF }, T0 + 1);
    assert.equal(replica.apply(primary.entry(ALICE)), true);
    assert.equal(replica.apply(primary.entry(ALICE)), false, "the same version again changes nothing");
    assert.equal(pub.answer.status, 200);
    const etag = pub.answer.status === 200 ? pub.answer.etag : "";
    const next = replica.publish(ALICE, { ifMatch: etag, body: pidf(ALICE, "phone", "closed"), contentType: PIDF }, T0 + 2);
    assert.equal(next.answer.status, 200, "the replica knows the publication's entity tag");
    assert.equal(next.notifications.length, 1);
    assert.equal(next.notifications[0]!.subscription.watcher, "sip:bob@example.com");
    assert.ok(next.notifications[0]!.subscription.notifies > pub.notifications[0]!.subscription.notifies, "the NOTIFY sequence goes on");
  });
});
