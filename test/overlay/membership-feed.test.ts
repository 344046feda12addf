import { test } from "node:test";
import { randomBytes } from "node:crypto";
import assert from "node:assert/strict";
import { ManualClock, subscribe } from "../../src/base/index.js";
import { LocalHub } from "../../src/events/index.js";
import { MembershipFeed, membershipChannel, RoleMap, type Entity, type MembershipRequest, type MembershipSnapshot, type MembershipUpdate } from "../../src/overlay/index.js";
import { beaconOf, deltaOf, tableParts } from "../support/membership.js";

const member = (id: string, attrs: Entity["attrs"] = {}, startedAt = 1): Entity => ({ id, ip: `192.0.2.${id.slice(4)}`, roles: ["sip_proxy"], version: "t", ports: {}, attrs, startedAt });
const snap = (epoch: number, seq: number, members: Entity[], manager = "mgr1"): MembershipSnapshot => ({ epoch, seq, manager, at: 1_800_000_000_000, members });
const MANAGER = { subject: { CN: "mgr1", OU: "manager" } };

/** A feed following a fake source that records the table requests. */
function following(clock = new ManualClock()) {
  const requests: MembershipRequest[] = [];
  const feed = new MembershipFeed({ clock, staleMs: 20_000, requestIntervalMs: 1000 });
  feed.follow({ subscribe: () => () => {}, publish: (_t, req) => requests.push(req) });
  const table = (s: MembershipSnapshot) => tableParts(s).map((p) => feed.offerTable(p, MANAGER)).at(-1)!;
  return { feed, requests, clock, table };
}

test("membership counts only when a manager's certificate published it (unsigned and non-manager refused)", () => {
  const { feed, table } = following();
  const one = [member("node1")];
  const publishers: Array<{ subject: Record<string, string> }> = [{ subject: { CN: "node9", OU: "node" } }, { subject: { CN: "mgr1" } }, { subject: {} }];
  for (const publisher of publishers) {
    assert.deepEqual(tableParts(snap(5, 5, one)).map((p) => feed.offerTable(p, publisher)), [{ type: "ignored", reason: "not-a-manager" }]);
    assert.deepEqual(feed.offer(deltaOf([], one, { epoch: 5, seq: 6 }), publisher), { type: "ignored", reason: "not-a-manager" });
    assert.deepEqual(feed.offer(beaconOf(one, { epoch: 5, seq: 6 }), publisher), { type: "ignored", reason: "not-a-manager" });
  }
  assert.equal(feed.current as MembershipSnapshot | undefined, undefined);
  assert.equal(table(snap(1, 1, one)).type, "applied");
  const two = [member("node1"), member("node2")];
  assert.deepEqual(feed.offer(deltaOf(one, two, { epoch: 1, seq: 2 }), { subject: { CN: "node2", OU: "node" } }), { type: "ignored", reason: "not-a-manager" });
  assert.equal(feed.current?.members.length, 1);
});

test("deltas apply in seq order; an older or repeated one is ignored", () => {
  const { feed, table } = following();
  const a = [member("node1")];
  const b = [member("node1"), member("node2")];
  const c = [member("node2"), member("node3")];
  table(snap(2, 3, a));
  assert.equal(feed.offer(deltaOf(a, b, { epoch: 2, seq: 4 }), MANAGER).type, "applied");
  assert.deepEqual(feed.offer(deltaOf(a, b, { epoch: 2, seq: 4 }), MANAGER), { type: "ignored", reason: "not-newer" });
  assert.deepEqual(feed.offer(deltaOf(a, b, { epoch: 2, seq: 2 }), MANAGER), { type: "ignored", reason: "not-newer" });
  assert.deepEqual(feed.offer(deltaOf(a, b, { epoch: 1, seq: 9 }), MANAGER), { type: "ignored", reason: "not-newer" });
  assert.equal(feed.offer(deltaOf(b, c, { epoch: 2, seq: 5 }), MANAGER).type, "applied");
  assert.deepEqual(feed.current?.members.map((m) => m.id), ["node2", "node3"]);
  assert.equal(feed.current?.seq, 5);
  assert.deepEqual(feed.offer(beaconOf(c, { epoch: 2, seq: 5 }), MANAGER), { type: "current" });
  assert.equal(feed.wantsTable, undefined);
});

test("a start asks for the full table; deltas that arrive meanwhile are replayed on top of it", () => {
  const { feed, requests, table } = following();
  assert.deepEqual(requests, [{ reason: "start" }]);
  const a = [member("node1")];
  const b = [member("node1"), member("node2")];
  assert.deepEqual(feed.offer(deltaOf(a, b, { epoch: 1, seq: 8 }), MANAGER), { type: "ignored", reason: "no-table" });
  table(snap(1, 7, a));
  assert.equal(feed.current?.seq, 8, "the kept delta followed on");
  assert.deepEqual(feed.current?.members.map((m) => m.id), ["node1", "node2"]);
});

test("a gap in the numbering asks for the full table, repeated until it comes", () => {
  const { feed, requests, clock, table } = following();
  const a = [member("node1")];
  const b = [member("node1"), member("node2")];
  const c = [member("node1"), member("node2"), member("node3")];
  table(snap(1, 1, a));
  requests.length = 0;
  assert.deepEqual(feed.offer(deltaOf(b, c, { epoch: 1, seq: 3 }), MANAGER), { type: "ignored", reason: "gap" });
  assert.deepEqual(requests, [{ reason: "gap", have: { epoch: 1, seq: 1 } }]);
  clock.advance(1000);
  assert.equal(requests.length, 2, "asked again after the request interval");
  // The table at seq 2, then the kept delta 3.
  table(snap(1, 2, b));
  assert.deepEqual(feed.current?.members.map((m) => m.id), ["node1", "node2", "node3"]);
  assert.equal(feed.current?.seq, 3);
  clock.advance(5000);
  assert.equal(requests.length, 2, "no more requests once applied");
  // A beacon ahead of us is a gap too.
  assert.deepEqual(feed.offer(beaconOf(c, { epoch: 1, seq: 9 }), MANAGER), { type: "ignored", reason: "gap" });
  assert.equal(feed.wantsTable, "gap");
});

test("a digest that differs from the manager's asks for the table again (resync)", () => {
  const { feed, requests, table } = following();
  const a = [member("node1"), member("node2")];
  table(snap(1, 4, a));
  requests.length = 0;
  // Same version, other content at the manager: the beacon's digest tells.
  const theirs = [member("node1"), member("node2", { draining: true })];
  assert.deepEqual(feed.offer(beaconOf(theirs, { epoch: 1, seq: 4 }), MANAGER), { type: "ignored", reason: "digest-mismatch" });
  assert.deepEqual(requests, [{ reason: "digest", have: { epoch: 1, seq: 4 } }]);
  // The table of the same version is taken now (it would be "not newer" otherwise).
  assert.equal(table(snap(1, 4, theirs)).type, "applied");
  assert.equal(feed.current?.members[1]?.attrs["draining"], true);
  assert.deepEqual(feed.offer(beaconOf(theirs, { epoch: 1, seq: 4 }), MANAGER), { type: "current" });
  assert.equal(table(snap(1, 4, a)).type, "ignored", "and not again once in sync");
  // A delta whose result disagrees with its digest: applied, then the table is asked for.
  const wrong = { ...deltaOf(theirs, [...theirs, member("node3")], { epoch: 1, seq: 5 }), digest: "0123456789abcdef" };
  assert.equal(feed.offer(wrong, MANAGER).type, "applied");
  assert.equal(feed.wantsTable, "digest");
});

test("a new manager term asks for the full table; its deltas wait for it", () => {
  const { feed, requests, table } = following();
  const a = [member("node1"), member("node2")];
  table(snap(1, 9, a));
  requests.length = 0;
  const b = [member("node2"), member("node3")];
  assert.deepEqual(feed.offer(beaconOf(b, { epoch: 2, seq: 0, manager: "mgr2" }), MANAGER), { type: "ignored", reason: "new-term" });
  assert.deepEqual(requests, [{ reason: "term", have: { epoch: 1, seq: 9 } }]);
  const c = [member("node3")];
  assert.deepEqual(feed.offer(deltaOf(b, c, { epoch: 2, seq: 1, manager: "mgr2" }), MANAGER), { type: "ignored", reason: "new-term" });
  const updates: MembershipUpdate[] = [];
  feed.subscribe((u) => updates.push(u));
  table(snap(2, 0, b, "mgr2"));
  assert.deepEqual(updates[0]!.changes.map((ch) => ch.type).sort(), ["joined", "left", "term"]);
  assert.deepEqual(feed.current?.members.map((m) => m.id), ["node3"], "the kept delta of the new term was replayed");
  assert.equal(feed.current?.manager, "mgr2");
  // The old term is over: its late messages are ignored.
  assert.deepEqual(feed.offer(deltaOf(a, [], { epoch: 1, seq: 10 }), MANAGER), { type: "ignored", reason: "not-newer" });
  // Same term, another manager (two actives until the election settles): ignored.
  assert.deepEqual(feed.offer(deltaOf(c, [], { epoch: 2, seq: 2, manager: "mgr3" }), MANAGER), { type: "ignored", reason: "other-manager" });
});

test("a stale membership is replaced by a table of any manager, even of a lower term (a restarted manager cluster)", () => {
  const { feed, clock, table } = following();
  table(snap(7, 7, [member("node1")]));
  clock.advance(19_000);
  assert.equal(table(snap(1, 1, [member("node3")])).type, "ignored");
  assert.deepEqual(feed.offer(beaconOf([member("node3")], { epoch: 1, seq: 1 }), MANAGER), { type: "ignored", reason: "not-newer" });
  clock.advance(2_000);
  assert.deepEqual(feed.offer(beaconOf([member("node3")], { epoch: 1, seq: 1 }), MANAGER), { type: "ignored", reason: "stale" });
  assert.equal(feed.wantsTable, "stale");
  assert.equal(table(snap(1, 1, [member("node3")])).type, "applied");
  assert.deepEqual(feed.current?.members.map((m) => m.id), ["node3"]);
});

test("beacons of the current version keep a membership fresh", () => {
  const { feed, clock, table } = following();
  const a = [member("node1")];
  table(snap(7, 7, a));
  for (let i = 0; i < 5; i++) {
    clock.advance(10_000);
    assert.deepEqual(feed.offer(beaconOf(a, { epoch: 7, seq: 7 }), MANAGER), { type: "current" });
  }
  assert.equal(table(snap(1, 1, [member("node3")])).type, "ignored", "not stale: 50 s old but confirmed every 10 s");
});

test("each change is published as a union of changes, and the rings follow without a rebuild", () => {
  const { feed, table } = following();
  const updates: MembershipUpdate[] = [];
  feed.subscribe((u) => updates.push(u));
  const a = [member("node1"), member("node2")];
  table(snap(1, 1, a));
  assert.deepEqual(updates[0]!.changes.map((c) => c.type), ["term", "joined", "joined"]);
  const b = [member("node1", { draining: true }), member("node3")];
  feed.offer(deltaOf(a, b, { epoch: 1, seq: 2 }), MANAGER);
  const second = updates[1]!.changes;
  assert.deepEqual(second.map((c) => c.type).sort(), ["changed", "joined", "left"]);
  const changed = second.find((c) => c.type === "changed");
  assert.ok(changed?.type === "changed" && changed.member.attrs["draining"] === true && changed.previous.attrs["draining"] === undefined);
  assert.ok(second.some((c) => c.type === "left" && c.member.id === "node2"));
  // A draining member stays a member but leaves the rings.
  assert.deepEqual(updates[1]!.map.ring("sip_proxy")!.nodes, [member("node3").ip]);
  assert.deepEqual(updates[1]!.map.ring("sip_proxy")!.entries(), RoleMap.fromMembers(b).ring("sip_proxy")!.entries(), "incremental rings equal rebuilt ones");
  // A delta that changes nothing (the same member announced again): no changes, the same rings.
  feed.offer(deltaOf(b, b, { epoch: 1, seq: 3 }), MANAGER);
  assert.equal(updates[2]!.changes.length, 0);
  assert.equal(updates[2]!.map, updates[1]!.map);
  // A new term with the same members: only the term changes, the rings are kept.
  table(snap(2, 0, b, "mgr2"));
  assert.deepEqual(updates[3]!.changes, [{ type: "term", epoch: 2, manager: "mgr2" }]);
  assert.equal(updates[3]!.map, updates[1]!.map);
  // A restart (new startedAt) is a change.
  const c = [member("node1", { draining: true }), member("node3", {}, 2)];
  feed.offer(deltaOf(b, c, { epoch: 2, seq: 1, manager: "mgr2" }), MANAGER);
  assert.deepEqual(updates[4]!.changes.map((ch) => ch.type), ["changed"]);
});

test("a table in several parts is assembled; a table that does not match its header is refused", () => {
  const { feed } = following();
  const many = Array.from({ length: 300 }, (_, i) => member(`node${i}`, { key: randomBytes(64).toString("hex") }));
  const parts = tableParts(snap(1, 1, many), 4096);
  assert.ok(parts.length > 2, `${parts.length} parts`);
  for (const p of parts.slice(0, -1).reverse()) assert.deepEqual(feed.offerTable(p, MANAGER), { type: "ignored", reason: "partial-table" });
  assert.equal(feed.offerTable(parts.at(-1)!, MANAGER).type, "applied");
  assert.equal(feed.current?.members.length, 300);
  const forged = tableParts(snap(1, 2, many.slice(1))).map((p) => ({ ...p, count: 300, digest: parts[0]!.digest }));
  assert.deepEqual(forged.map((p) => feed.offerTable(p, MANAGER)).at(-1), { type: "ignored", reason: "bad-table" });
  const garbage = { ...parts[0]!, seq: 3, parts: 1, data: "bm90IGRlZmxhdGU=" };
  assert.deepEqual(feed.offerTable(garbage, MANAGER), { type: "ignored", reason: "bad-table" });
  assert.equal(feed.current?.seq, 1);
});

test("follows a bus: asks for the table and takes only what a manager's certificate published", async () => {
  const hub = new LocalHub();
  const feed = new MembershipFeed({ clock: new ManualClock() });
  const manager = hub.attach({ CN: "mgr1", OU: "manager" });
  const asked: string[] = [];
  manager.subscribe("Thor.MembersRequest", (req, meta) => asked.push(`${meta.publisher.subject["CN"]}:${req.reason}`));
  const verdicts: string[] = [];
  const unsub = subscribe<{ verdict: string }>(membershipChannel.name, (m) => verdicts.push(m.verdict));
  const off = feed.follow(hub.attach({ CN: "dns1", OU: "dns" }));
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(asked, ["dns1:start"]);
  for (const p of tableParts(snap(9, 9, []))) hub.attach({ CN: "mgr1", OU: "node" }).publish("Thor.MembersTable", p);
  // Addressed to someone else: not delivered to this feed at all.
  for (const p of tableParts(snap(2, 1, [member("node2")]))) manager.publish("Thor.MembersTable", p, { to: ["dns2"] });
  for (const p of tableParts(snap(1, 1, [member("node1")]))) manager.publish("Thor.MembersTable", p, { to: ["dns1"] });
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(feed.current?.members.map((m) => m.id), ["node1"]);
  assert.deepEqual(verdicts, ["no-table", "not-a-manager", "applied"].slice(verdicts[0] === "no-table" ? 0 : 1));
  off();
  unsub();
});

test("what a member keeps while it waits for a table is bounded, and requests are paced", () => {
  const clock = new ManualClock();
  const requests: MembershipRequest[] = [];
  const feed = new MembershipFeed({ clock, maxPending: 16, requestIntervalMs: 1000 });
  feed.follow({ subscribe: () => () => {}, publish: (_t, req) => requests.push(req) });
  const base = [member("node1")];
  for (let seq = 2; seq < 1002; seq++) feed.offer(deltaOf(base, base, { epoch: 1, seq }), MANAGER);
  // The start request, one more at the first manager message (the first may have gone out before any link was up), then one per interval.
  assert.equal(requests.length, 2, "a thousand deltas before the table: no more requests within the interval");
  clock.advance(1000);
  assert.equal(requests.length, 3);
  // The table at seq 985: only the kept deltas 986..1001 (the last 16) follow on.
  for (const p of tableParts(snap(1, 985, base))) feed.offerTable(p, MANAGER);
  assert.equal(feed.current?.seq, 1001);
});
