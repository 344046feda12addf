import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { RoleMap } from "../../src/overlay/index.js";
import { Baresip } from "../support/baresip.js";
import { FORMATION_MS, Lab } from "../support/lab.js";
import { PresenceUa, pidf } from "../support/presence-ua.js";
import { waitFor } from "../support/wait-for.js";
import { testNet } from "../support/slot.js";

/**
 * Presence distributed like registrations (issue 14): three real `thor
 * node` processes on testIp(150, 0)/24. A watcher and a publisher use a node
 * that is not the presentity's responsible node; the SUBSCRIBE and the
 * PUBLISH reach the responsible node in one hop, the state is replicated
 * to the second holder; SIGKILL of the responsible node loses nothing:
 * the next PUBLISH reaches the watcher (from the replica, the dialog's
 * CSeq going on) and the watcher refreshes without subscribing again.
 */
const SUBNET = testNet(150);
const DOMAIN = "example.com";
const USERS = ["watcher", ...Array.from({ length: 40 }, (_, i) => `p${i}`)];
const password = (u: string) => `${u}-secret`;
const plain = (s: string | undefined) => (s ?? "").replace(/\u001b\[[0-9;]*m/g, "");

describe("presence on the sip_proxy ring", () => {
  let lab: Lab;
  const uas: PresenceUa[] = [];
  const phones: Baresip[] = [];
  /** The baresip users (presentities) of the first test. */
  let alice = "";
  let bob = "";
  const map = () => RoleMap.fromMembers(lab.view.snapshot!.members);
  const holders = (user: string) => map().successors("sip_proxy", `${user}@${DOMAIN}`, 2).map((e) => e.id);
  const stat = (id: string, name: string, since: number) => {
    const r = lab.view.statistics.get(id);
    return r && r.at > since ? r.roles["sip_proxy"]?.[name] : undefined;
  };

  before(async () => {
    lab = await Lab.create({ subnet: SUBNET, eventServers: 1, managers: 1, nodes: [["sip_proxy"], ["sip_proxy"], ["sip_proxy"]] });
    writeFileSync(lab.plan.usersFile, USERS.map((u) => `[[users]]\nusername = "${u}"\npassword = "${password(u)}"\n`).join("\n"));
    for (const kind of ["eventserver", "manager", "database"] as const) for (const m of lab.of(kind)) lab.start(m.name);
    for (const m of lab.of("node")) lab.start(m.name, ["--presence-without-rules", "allow", "--statistics-interval-ms", "500"]);
    await lab.observe();
    await waitFor(() => (lab.view.snapshot?.members.length ?? 0) === 3, { timeoutMs: FORMATION_MS, message: "3 nodes in the snapshot" });
    await lab.sipReady();
  });

  after(async () => {
    await Promise.all(phones.map((p) => p.stop()));
    for (const u of uas) u.close();
    await lab?.stop();
  });

  /** The presence a baresip phone shows for its buddy (its `contacts` listing). */
  const seen = async (phone: Baresip, buddy: string) => {
    const text = plain((await phone.command("contacts")).data);
    return new RegExp(`(\\w+)\\s*(?:\\S*\\s*)?<?sip:${buddy}@`).exec(text)?.[1]?.toLowerCase() ?? text;
  };

  it("baresip phones on two nodes see each other's presence (PUBLISH on one node, SUBSCRIBE on another)", async () => {
    const ids = lab.of("node").map((n) => n.name);
    // alice's presentity is held by node1 then node2 (node1 is SIGKILLed later); she uses node2, bob node3.
    alice = [...USERS.slice(1)].reverse().find((u) => holders(u)[0] === ids[0] && holders(u)[1] === ids[1])!;
    bob = USERS.slice(1).find((u) => u !== alice && holders(u)[0] !== ids[2])!;
    const node = (i: number) => lab.of("node")[i]!.ip;
    const account = (user: string, via: string) => `<sip:${user}@${DOMAIN}>;auth_pass=${password(user)};outbound="sip:${via}:5060;transport=udp";regint=600;pubint=600`;
    const a = new Baresip({ name: "alice", dir: lab.plan.dir, ip: `${SUBNET}.110`, sipPort: 5060, ctrlPort: 4444, account: account(alice, node(1)), rtpPorts: [20000, 20009], presenceContacts: [`"bob" <sip:${bob}@${DOMAIN}>`] });
    const b = new Baresip({ name: "bob", dir: lab.plan.dir, ip: `${SUBNET}.111`, sipPort: 5060, ctrlPort: 4444, account: account(bob, node(2)), rtpPorts: [20010, 20019], presenceContacts: [`"alice" <sip:${alice}@${DOMAIN}>`] });
    phones.push(a, b);
    await Promise.all([a.start(), b.start()]);
    for (const p of phones) await waitFor(async () => /\bOK\b/.test(plain((await p.command("reginfo")).data)), { timeoutMs: 15_000, message: `${p.opts.name} registered\n${p.log()}` });
    const trace = (p: Baresip) => p.fullOutput().replace(/.*handle_command.*\n/g, "").slice(-3000);
    const diag = async () => `alice: ${await seen(b, alice)} / bob: ${await seen(a, bob)}\nalice's phone:\n${trace(a)}\nbob's phone:\n${trace(b)}`;
    await waitFor(async () => (await seen(b, alice)) === "online" && (await seen(a, bob)) === "online", { timeoutMs: 20_000, intervalMs: 1000, message: "each sees the other online" }).catch(async (e: Error) => {
      throw new Error(`${e.message}: ${await diag()}`);
    });
    // alice goes offline and back: bob (another node) sees each change.
    const off = await a.command("presence_offline");
    assert.ok(off.ok, `presence_offline: ${off.data}`);
    await waitFor(async () => (await seen(b, alice)) === "offline", { timeoutMs: 10_000, intervalMs: 250, message: "bob sees alice offline" }).catch(async (e: Error) => {
      throw new Error(`${e.message}: ${await diag()}`);
    });
    assert.ok((await a.command("presence_online")).ok);
    await waitFor(async () => (await seen(b, alice)) === "online", { timeoutMs: 10_000, intervalMs: 250, message: "bob sees alice online again" });
  });

  it("SUBSCRIBE and PUBLISH reach the responsible node from any node; SIGKILL of it loses no subscription", async () => {
    const ids = lab.of("node").map((n) => n.name);
    // A presentity whose responsible node is node1: the clients use node3, which must survive.
    const user = USERS.slice(1).find((u) => holders(u)[0] === ids[0] && holders(u)[1] === ids[1])!;
    assert.ok(user, "some presentity is held by node1 then node2");
    const edge = lab.of("node")[2]!;
    const server = { host: edge.ip, port: 5060 };
    const watcher = new PresenceUa(`${SUBNET}.100`, "watcher", DOMAIN, password("watcher"), server);
    const publisher = new PresenceUa(`${SUBNET}.101`, user, DOMAIN, password(user), server);
    uas.push(watcher, publisher);
    await Promise.all([watcher.start(), publisher.start()]);

    const base = Date.now();
    await waitFor(() => ids.every((id) => stat(id, "presenceSubscriptions", base) !== undefined), { timeoutMs: 5000, message: "statistics of every node" });
    const before = Object.fromEntries(ids.map((id) => [id, stat(id, "presenceSubscriptions", base)!]));
    const sub = await watcher.subscribe(`${user}@${DOMAIN}`, { expires: 600 });
    assert.equal(sub.status, 200, sub.reason);
    await watcher.waitNotify((n) => n.state.startsWith("active"), "the first NOTIFY");
    const t0 = Date.now();
    // Held by node1 and replicated to node2; node3 (the edge) holds nothing.
    const added = (id: string, since: number) => (stat(id, "presenceSubscriptions", since) ?? NaN) - before[id]!;
    await waitFor(() => added("node1", t0) === 1 && added("node2", t0) === 1 && added("node3", t0) === 0, { timeoutMs: 10_000, message: "the subscription on node1 and node2 only" });

    const p1 = await publisher.publish(pidf(`sip:${user}@${DOMAIN}`, "open", "before the crash"));
    assert.equal(p1.status, 200, p1.reason);
    const n1 = await watcher.waitNotify((n) => n.body.includes("before the crash"), "the NOTIFY of the first PUBLISH");
    await waitFor(() => added("node2", Date.now() - 400) === 1, { timeoutMs: 5000, message: "the replica up to date" });

    await lab.proc("node1").stop("SIGKILL", 1000);
    // The next PUBLISH (modifying the same publication) reaches the watcher from the replica, in the same dialog.
    const p2 = await publisher.publish(pidf(`sip:${user}@${DOMAIN}`, "open", "after the crash"), { ifMatch: p1.get("sip-etag")! });
    assert.equal(p2.status, 200, `PUBLISH after the crash: ${p2.status} ${p2.reason}`);
    const n2 = await watcher.waitNotify((n) => n.body.includes("after the crash"), "the NOTIFY from the replica");
    assert.equal(n2.request.callId, n1.request.callId);
    assert.ok(n2.cseq > n1.cseq, `CSeq goes on: ${n1.cseq} → ${n2.cseq}`);
    // The watcher refreshes without subscribing again.
    const refresh = await watcher.refresh(`${user}@${DOMAIN}`, 600);
    assert.equal(refresh.status, 200, refresh.reason);

    // node1 leaves the membership: the state moves with the ring (node3 becomes the second holder).
    await waitFor(() => lab.memberIds().join() === "node2,node3", { timeoutMs: 30_000, message: "node1 gone" });
    const t1 = Date.now();
    // Every subscription (each was on two holders before, the watcher's is one more) is now on both nodes left.
    const total = (since: number) => ["node2", "node3"].reduce((n, id) => n + (stat(id, "presenceSubscriptions", since) ?? NaN), 0);
    const want = Object.values(before).reduce((a, b) => a + b, 0) + 2;
    await waitFor(() => total(t1) === want, { timeoutMs: 15_000, message: `${want} subscriptions on node2 and node3` });
    const p3 = await publisher.publish(pidf(`sip:${user}@${DOMAIN}`, "closed", "ring changed"), { ifMatch: p2.get("sip-etag")! });
    assert.equal(p3.status, 200, p3.reason);
    await watcher.waitNotify((n) => n.body.includes("ring changed"), "the NOTIFY after the ring change");
  });

  it("after the SIGKILL of alice's responsible node, bob's baresip still sees her changes without subscribing again", async () => {
    assert.ok(!lab.proc("node1").alive, "node1 was SIGKILLed by the previous test");
    const [a, b] = phones as [Baresip, Baresip];
    const closedBefore = b.fullOutput().split("subscriber closed").length;
    assert.ok((await a.command("presence_offline")).ok);
    await waitFor(async () => (await seen(b, alice)) === "offline", { timeoutMs: 10_000, intervalMs: 250, message: "bob sees alice offline (from the replica)" });
    assert.ok((await a.command("presence_online")).ok);
    await waitFor(async () => (await seen(b, alice)) === "online", { timeoutMs: 10_000, intervalMs: 250, message: "bob sees alice online again" });
    assert.equal(b.fullOutput().split("subscriber closed").length, closedBefore, `bob's subscription was never closed (no new SUBSCRIBE):\n${b.log()}`);
  });
});
