import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { silentLogger, systemClock } from "../../src/base/index.js";
import { MemoryCredentialStore, SipServer } from "../../src/sip/index.js";
import { PresenceAgent } from "../../src/roles/presence-agent.js";
import { PresenceInterceptor } from "../../src/roles/presence-interceptor.js";
import { PresenceUa, pidf } from "../support/presence-ua.js";
import { waitFor } from "../support/wait-for.js";
import { testIp, testNetRe } from "../support/slot.js";

/** The presence feature on one SIP server over real UDP sockets: RFC 6665 notifier, RFC 3903 PUBLISH, RFC 3856 presence. */
describe("presence on the SIP pipeline (one node)", () => {
  const HOST = testIp(150, 1);
  const D = "example.test";
  let server: SipServer;
  let agent: PresenceAgent;
  let alice: PresenceUa;
  let bob: PresenceUa;
  let carol: PresenceUa;

  before(async () => {
    const creds = new MemoryCredentialStore(D);
    for (const u of ["alice", "bob", "carol"]) creds.set(u, { password: `${u}-pw` });
    agent = new PresenceAgent({
      clock: systemClock,
      logger: silentLogger,
      uac: { send: (req, target, tu) => server.proxy.originator.send(req, target, tu) },
      withoutRules: "allow",
      limits: { maxSubscriptionsPerWatcher: 3, maxPublicationBytes: 2000 },
    });
    const edge = new PresenceInterceptor({ router: agent, domains: [D], contactAddress: (t) => server.proxy.originator.contactAddress(t), maxBody: 2000, logger: silentLogger });
    server = new SipServer({ logger: silentLogger, listen: [{ transport: "udp", host: HOST, port: 0 }], domains: [D], credentials: creds, algorithms: ["MD5"], guard: { rate: 1000, burst: 1000 }, interceptors: [edge] });
    await server.start();
    const port = server.transport.bound()[0]!.boundPort;
    alice = new PresenceUa(testIp(150, 2), "alice", D, "alice-pw", { host: HOST, port });
    bob = new PresenceUa(testIp(150, 3), "bob", D, "bob-pw", { host: HOST, port });
    carol = new PresenceUa(testIp(150, 4), "carol", D, "carol-pw", { host: HOST, port });
    await Promise.all([alice.start(), bob.start(), carol.start()]);
  });
  after(async () => {
    for (const u of [alice, bob, carol]) u.close();
    await server.stop();
  });

  it("MUST answer a SUBSCRIBE 200 with Expires, Contact, a To tag and Allow-Events, after digest, and NOTIFY at once with the closed document", async () => {
    const res = await bob.subscribe(`alice@${D}`, { expires: 600 });
    assert.equal(res.status, 200);
    assert.equal(res.get("expires"), "600");
    assert.ok(res.to?.params.get("tag"));
    assert.match(res.get("contact") ?? "", new RegExp(String.raw`^<sip:alice@${testNetRe(150)}\.1:\d+;transport=udp>$`));
    assert.deepEqual(res.getAll("allow-events"), ["presence", "presence.winfo", "xcap-diff"]);
    const n = await bob.waitNotify((x) => x.state.startsWith("active"), "the immediate NOTIFY");
    assert.match(n.state, /^active;expires=\d+$/);
    assert.equal(n.request.get("event"), "presence");
    assert.match(n.body, /<basic>closed<\/basic>/);
    assert.equal(n.request.to?.params.get("tag"), bob.dialog!.fromTag);
    assert.equal(n.request.from?.params.get("tag"), bob.dialog!.toTag);
  });

  it("PUBLISH creates a publication (SIP-ETag) and its watchers are notified with it", async () => {
    const before = bob.notifies.length;
    const res = await alice.publish(pidf(`sip:alice@${D}`, "open", "at work"));
    assert.equal(res.status, 200);
    assert.ok(res.get("sip-etag"));
    const n = await bob.waitNotify((x) => bob.notifies.indexOf(x) >= before && x.body.includes("at work"), "a NOTIFY with the publication");
    assert.match(n.body, /<basic>open<\/basic>/);
    assert.ok(n.cseq > bob.notifies[0]!.cseq, "NOTIFY CSeq grows within the dialog");
  });

  it("refreshes with SIP-If-Match, answers 412 to a stale entity tag, composes two devices, removes with Expires: 0", async () => {
    const first = await alice.publish(pidf(`sip:alice@${D}`, "open", "desk", "desk"));
    const etag = first.get("sip-etag")!;
    const refreshed = await alice.publish(undefined, { ifMatch: etag, expires: 120 });
    assert.equal(refreshed.status, 200);
    const etag2 = refreshed.get("sip-etag")!;
    assert.notEqual(etag2, etag);
    assert.equal(refreshed.get("expires"), "120");
    const stale = await alice.publish(undefined, { ifMatch: etag });
    assert.equal(stale.status, 412);
    const phone = await alice.publish(pidf(`sip:alice@${D}`, "closed", "phone", "phone"));
    await bob.waitNotify((x) => x.body.includes("desk") && x.body.includes("phone"), "the composition of both devices");
    // Remove every publication: the closed (offline) document.
    await alice.publish(undefined, { ifMatch: etag2, expires: 0 });
    await alice.publish(undefined, { ifMatch: phone.get("sip-etag")!, expires: 0 });
    for (const e of agent.notifier.publications.publications(`alice@${D}`, Date.now())) await alice.publish(undefined, { ifMatch: e.etag, expires: 0 });
    await bob.waitNotify((x) => /<basic>closed<\/basic>/.test(x.body) && !x.body.includes("desk") && !x.body.includes("at work"), "the offline document");
  });

  it("rejects bad requests with clear 4xx: 489 Bad Event, 423 Min-Expires, 415, 413, 400 with the reason, 403 for another user's presence", async () => {
    const bad = await carol.subscribe(`alice@${D}`, { event: "message-summary" });
    assert.equal(bad.status, 489);
    assert.match(bad.get("allow-events") ?? "", /presence/);
    const brief = await carol.subscribe(`alice@${D}`, { expires: 10 });
    assert.equal(brief.status, 423);
    assert.equal(brief.get("min-expires"), "60");
    const type = await alice.publish("hello", { contentType: "text/plain" });
    assert.equal(type.status, 415);
    const big = await alice.publish(pidf(`sip:alice@${D}`, "open", "x".repeat(3000)));
    assert.equal(big.status, 413);
    const broken = await alice.publish("<presence xmlns='urn:ietf:params:xml:ns:pidf' entity='sip:bob@example.test'/>");
    assert.equal(broken.status, 400);
    assert.match(broken.reason, /entity/i);
    const pubEvent = await alice.publish(pidf(`sip:alice@${D}`, "open"), { event: "dialog" });
    assert.equal(pubEvent.status, 489);
    const other = await carol.request("PUBLISH", `sip:alice@${D}`, [["From", `<sip:carol@${D}>;tag=1`], ["To", `<sip:alice@${D}>`], ["Event", "presence"], ["Content-Type", "application/pidf+xml"]], pidf(`sip:alice@${D}`, "open"));
    assert.equal(other.status, 403);
  });

  it("presence.winfo: the owner sees its watchers; another user is refused", async () => {
    const own = new PresenceUa(testIp(150, 5), "alice", D, "alice-pw", { host: HOST, port: server.transport.bound()[0]!.boundPort });
    await own.start();
    try {
      const res = await own.subscribe(`alice@${D}`, { event: "presence.winfo" });
      assert.equal(res.status, 200);
      const n = await own.waitNotify((x) => x.request.get("content-type") === "application/watcherinfo+xml", "a watcherinfo NOTIFY");
      assert.match(n.body, /<watcher [^>]*status="active"[^>]*>sip:bob@example\.test<\/watcher>/);
      const nosy = await carol.subscribe(`alice@${D}`, { event: "presence.winfo" });
      assert.equal(nosy.status, 403);
    } finally {
      own.close();
    }
  });

  it("refresh, unsubscribe (final NOTIFY terminated;reason=timeout), then 481 for the ended dialog", async () => {
    const r1 = await bob.refresh(`alice@${D}`, 300);
    assert.equal(r1.status, 200);
    assert.equal(r1.get("expires"), "300");
    const r0 = await bob.refresh(`alice@${D}`, 0);
    assert.equal(r0.status, 200);
    await bob.waitNotify((x) => x.state === "terminated;reason=timeout", "the final NOTIFY");
    const gone = await bob.refresh(`alice@${D}`, 300);
    assert.equal(gone.status, 481);
  });

  it("limits subscriptions per watcher (403 with the reason)", async () => {
    const ok = [];
    for (const p of ["alice", "bob", "u1"]) ok.push((await carol.subscribe(`${p}@${D}`)).status);
    assert.deepEqual(ok, [200, 200, 200]);
    const over = await carol.subscribe(`u2@${D}`);
    assert.equal(over.status, 403);
    assert.match(over.reason, /at most 3/);
  });

  it("a NOTIFY answered 481 ends the subscription (RFC 6665 4.2.2)", async () => {
    const dave = new PresenceUa(testIp(150, 6), "alice", D, "alice-pw", { host: HOST, port: server.transport.bound()[0]!.boundPort });
    await dave.start();
    try {
      assert.equal((await dave.subscribe(`bob@${D}`)).status, 200);
      await dave.waitNotify(() => true, "the first NOTIFY");
      const count = agent.notifier.subscriptionCount;
      dave.notifyAnswer = 481;
      assert.equal((await bob.publish(pidf(`sip:bob@${D}`, "open"))).status, 200);
      await waitFor(() => agent.notifier.subscriptionCount === count - 1, { message: "the subscription removed" });
    } finally {
      dave.close();
    }
  });
});

/** Authorisation from the presentity's pres-rules (RFC 5025), as XCAP stores them; rule changes re-judge the watchers. */
describe("presence authorisation from pres-rules", () => {
  const HOST = testIp(150, 11);
  const D = "example.test";
  const CP = "urn:ietf:params:xml:ns:common-policy";
  const ruleset = (rules: Array<[string, string]>) =>
    `<ruleset xmlns="${CP}" xmlns:pr="urn:ietf:params:xml:ns:pres-rules">${rules.map(([who, h], i) => `<rule id="r${i}"><conditions><identity><one id="${who}"/></identity></conditions><actions><pr:sub-handling>${h}</pr:sub-handling></actions></rule>`).join("")}</ruleset>`;
  const documents = new Map<string, string>();
  let server: SipServer;
  let agent: PresenceAgent;
  const uas: PresenceUa[] = [];
  const ua = async (ip: string, user: string) => {
    const u = new PresenceUa(ip, user, D, `${user}-pw`, { host: HOST, port: server.transport.bound()[0]!.boundPort });
    await u.start();
    uas.push(u);
    return u;
  };

  before(async () => {
    const creds = new MemoryCredentialStore(D);
    for (const u of ["alice", "bob", "carol", "dave", "erin"]) creds.set(u, { password: `${u}-pw` });
    agent = new PresenceAgent({ clock: systemClock, logger: silentLogger, uac: { send: (req, target, tu) => server.proxy.originator.send(req, target, tu) }, loadRules: async (aor) => documents.get(aor) });
    const edge = new PresenceInterceptor({ router: agent, domains: [D], contactAddress: (t) => server.proxy.originator.contactAddress(t), maxBody: 16384, logger: silentLogger });
    server = new SipServer({ logger: silentLogger, listen: [{ transport: "udp", host: HOST, port: 0 }], domains: [D], credentials: creds, algorithms: ["MD5"], guard: { rate: 1000, burst: 1000 }, interceptors: [edge] });
    await server.start();
  });
  after(async () => {
    for (const u of uas) u.close();
    await server.stop();
  });

  it("without rules a watcher is pending (confirm) and sees the offline document; allow makes it active with the real state", async () => {
    const alice = await ua(testIp(150, 12), "alice");
    const bob = await ua(testIp(150, 13), "bob");
    assert.equal((await alice.publish(pidf(`sip:alice@${D}`, "open", "secret plans"))).status, 200);
    assert.equal((await bob.subscribe(`alice@${D}`)).status, 200);
    const first = await bob.waitNotify(() => true, "the first NOTIFY");
    assert.match(first.state, /^pending/);
    assert.doesNotMatch(first.body, /secret plans/);
    documents.set(`alice@${D}`, ruleset([[`sip:bob@${D}`, "allow"]]));
    await agent.rulesChanged(`alice@${D}`);
    const active = await bob.waitNotify((n) => n.state.startsWith("active"), "the NOTIFY of the activation");
    assert.match(active.body, /secret plans/);
  });

  it("block refuses (403), polite-block looks offline, a rule changed to block terminates with reason rejected", async () => {
    documents.set(`dave@${D}`, ruleset([[`sip:carol@${D}`, "block"], [`sip:erin@${D}`, "polite-block"], [`sip:alice@${D}`, "allow"]]));
    const dave = await ua(testIp(150, 14), "dave");
    const carol = await ua(testIp(150, 15), "carol");
    const erin = await ua(testIp(150, 16), "erin");
    const alice = await ua(testIp(150, 17), "alice");
    assert.equal((await dave.publish(pidf(`sip:dave@${D}`, "open", "in the lab"))).status, 200);
    const blocked = await carol.subscribe(`dave@${D}`);
    assert.equal(blocked.status, 403);
    assert.equal((await erin.subscribe(`dave@${D}`)).status, 200);
    const polite = await erin.waitNotify(() => true, "the polite NOTIFY");
    assert.match(polite.state, /^active/);
    assert.doesNotMatch(polite.body, /in the lab/);
    assert.match(polite.body, /<basic>closed<\/basic>/);
    assert.equal((await alice.subscribe(`dave@${D}`)).status, 200);
    await alice.waitNotify((n) => n.body.includes("in the lab"), "the allowed watcher's NOTIFY");
    documents.set(`dave@${D}`, ruleset([[`sip:alice@${D}`, "block"]]));
    await agent.rulesChanged(`dave@${D}`);
    await alice.waitNotify((n) => n.state === "terminated;reason=rejected", "the rejection");
  });
});
