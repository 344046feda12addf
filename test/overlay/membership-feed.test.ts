import { test } from "node:test";
import assert from "node:assert/strict";
import { ManualClock, subscribe } from "../../src/base/index.js";
import { LocalHub } from "../../src/events/index.js";
import { MembershipFeed, membershipChannel, type Entity, type MembershipSnapshot, type MembershipUpdate } from "../../src/overlay/index.js";

const member = (id: string, attrs: Entity["attrs"] = {}, startedAt = 1): Entity => ({ id, ip: `192.0.2.${id.slice(4)}`, roles: ["sip_proxy"], version: "t", ports: {}, attrs, startedAt });
const snap = (epoch: number, seq: number, members: Entity[], manager = "mgr1"): MembershipSnapshot => ({ epoch, seq, manager, at: 1_800_000_000_000, members });
const MANAGER = { subject: { CN: "mgr1", OU: "manager" } };

test("a snapshot counts only when a manager's certificate published it", () => {
  const feed = new MembershipFeed({ clock: new ManualClock() });
  assert.deepEqual(feed.offer(snap(5, 5, [member("node1")]), { subject: { CN: "node9", OU: "node" } }), { type: "ignored", reason: "not-a-manager" });
  assert.deepEqual(feed.offer(snap(5, 5, [member("node1")]), { subject: { CN: "monitor", OU: "monitor" } }), { type: "ignored", reason: "not-a-manager" });
  assert.equal(feed.current, undefined);
  assert.equal(feed.offer(snap(1, 1, [member("node1")]), MANAGER).type, "applied");
});

test("snapshots are taken in (epoch, seq) order; an older or equal one is ignored", () => {
  const feed = new MembershipFeed({ clock: new ManualClock() });
  feed.offer(snap(2, 3, [member("node1")]), MANAGER);
  assert.deepEqual(feed.offer(snap(2, 3, []), MANAGER), { type: "ignored", reason: "not-newer" });
  assert.deepEqual(feed.offer(snap(2, 2, []), MANAGER), { type: "ignored", reason: "not-newer" });
  assert.deepEqual(feed.offer(snap(1, 9, []), MANAGER), { type: "ignored", reason: "not-newer" });
  assert.equal(feed.offer(snap(2, 4, [member("node1"), member("node2")]), MANAGER).type, "applied");
  assert.equal(feed.offer(snap(3, 0, [member("node1")]), MANAGER).type, "applied");
  assert.equal(feed.current?.epoch, 3);
});

test("a stale membership is replaced by any manager snapshot, even of a lower term (a restarted manager cluster)", () => {
  const clock = new ManualClock();
  const feed = new MembershipFeed({ clock, staleMs: 20_000 });
  feed.offer(snap(7, 7, [member("node1")]), MANAGER);
  clock.advance(19_000);
  assert.equal(feed.offer(snap(1, 1, [member("node3")]), MANAGER).type, "ignored");
  clock.advance(2_000);
  assert.equal(feed.offer(snap(1, 1, [member("node3")]), MANAGER).type, "applied");
  assert.deepEqual(feed.current?.members.map((m) => m.id), ["node3"]);
});

test("each accepted snapshot is published as a union of changes: term, joined, changed, left", () => {
  const feed = new MembershipFeed({ clock: new ManualClock() });
  const updates: MembershipUpdate[] = [];
  feed.subscribe((u) => updates.push(u));
  feed.offer(snap(1, 1, [member("node1"), member("node2")]), MANAGER);
  assert.deepEqual(updates[0]!.changes.map((c) => c.type), ["term", "joined", "joined"]);
  feed.offer(snap(1, 2, [member("node1", { draining: true }), member("node3")]), MANAGER);
  const second = updates[1]!.changes;
  assert.deepEqual(second.map((c) => c.type).sort(), ["changed", "joined", "left"]);
  const changed = second.find((c) => c.type === "changed");
  assert.ok(changed?.type === "changed" && changed.member.attrs["draining"] === true && changed.previous.attrs["draining"] === undefined);
  assert.ok(second.some((c) => c.type === "left" && c.member.id === "node2"));
  // A draining member stays a member but leaves the rings.
  assert.deepEqual(updates[1]!.map.ring("sip_proxy")!.nodes, [member("node3").ip]);
  // A periodic re-send: accepted, no changes, the same rings (no rebuild).
  feed.offer(snap(1, 3, [member("node1", { draining: true }), member("node3")]), MANAGER);
  assert.equal(updates[2]!.changes.length, 0);
  assert.equal(updates[2]!.map, updates[1]!.map);
  // A new term with the same members: only the term changes, the rings are kept.
  feed.offer(snap(2, 0, [member("node1", { draining: true }), member("node3")], "mgr2"), MANAGER);
  assert.deepEqual(updates[3]!.changes, [{ type: "term", epoch: 2, manager: "mgr2" }]);
  assert.equal(updates[3]!.map, updates[1]!.map);
  // A restart (new startedAt) is a change.
  feed.offer(snap(2, 1, [member("node1", { draining: true }), member("node3", {}, 2)]), MANAGER);
  assert.deepEqual(updates[4]!.changes.map((c) => c.type), ["changed"]);
});

test("follows a bus: the publisher's certificate decides, not the payload", () => {
  const hub = new LocalHub();
  const feed = new MembershipFeed({ clock: new ManualClock() });
  const off = feed.follow(hub.attach({ CN: "dns1", OU: "dns" }));
  const verdicts: string[] = [];
  const unsub = subscribe<{ verdict: string }>(membershipChannel.name, (m) => verdicts.push(m.verdict));
  hub.attach({ CN: "mgr1", OU: "node" }).publish("Thor.Members", snap(9, 9, []));
  hub.attach({ CN: "mgr1", OU: "manager" }).publish("Thor.Members", snap(1, 1, [member("node1")]));
  return new Promise<void>((resolve) =>
    setImmediate(() => {
      assert.deepEqual(feed.current?.members.map((m) => m.id), ["node1"]);
      assert.deepEqual(verdicts, ["not-a-manager", "applied"]);
      off();
      unsub();
      resolve();
    }),
  );
});
