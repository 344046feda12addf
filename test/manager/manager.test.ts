import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { ManualClock, silentLogger } from "../../src/base/index.js";
import { LocalHub, type EventBus } from "../../src/events/index.js";
import { Manager, eventServerQuorum, hearingWindowMs, hearsQuorum } from "../../src/manager/index.js";
import { MAX_DELTA_OPS, MembershipDigest, MembershipFeed, TableAssembler, decodeTable, type Entity, type MembershipMessage, type MembershipTablePart } from "../../src/overlay/index.js";

const flush = () => new Promise<void>((r) => setImmediate(r));

async function run(clock: ManualClock, ms: number, step = 50): Promise<void> {
  for (let t = 0; t < ms; t += step) {
    clock.advance(step);
    await flush();
  }
}

const entity = (i: number): Entity => ({ id: `n${i}`, ip: `10.2.${i >> 8}.${i & 255}`, roles: ["sip_proxy"], version: "t", ports: { lookup: 9500 }, attrs: {}, startedAt: 1 });

function world() {
  const clock = new ManualClock();
  const hub = new LocalHub();
  const mgr = new Manager({ bus: hub.attach({ CN: "mgr1", OU: "manager" }), logger: silentLogger, clock, id: "mgr1", ip: "10.0.0.1", heartbeatMs: 1000, deadMs: 3000, memberTimeoutMs: 600_000, snapshotIntervalMs: 5000 });
  const announce = (e: Entity) => hub.attach({ CN: e.id, OU: "node" }, ["*"], [e.ip]).publish("Thor.Presence", e);
  return { clock, hub, mgr, announce };
}

describe("manager: deltas, beacons and tables on request", () => {
  it("publishes the changes of one window as one numbered delta, and beacons with version and digest, never the table", async () => {
    const { clock, hub, mgr, announce } = world();
    const seen: MembershipMessage[] = [];
    let tables = 0;
    const watcher = hub.attach({ CN: "watcher", OU: "monitor" });
    watcher.subscribe("Thor.Members", (m) => seen.push(m));
    watcher.subscribe("Thor.MembersTable", () => tables++);
    mgr.start();
    await run(clock, 4000);
    assert.equal(mgr.isActive, true);
    const start = seen.length;
    for (let i = 0; i < 3; i++) announce(entity(i));
    await run(clock, 200);
    const deltas = seen.slice(start).filter((m) => m.kind === "delta");
    assert.equal(deltas.length, 1, "three joins in one window: one delta");
    const d = deltas[0]!;
    assert.ok(d.kind === "delta");
    assert.equal(d.seq, 1);
    assert.deepEqual(d.upsert.map((t) => t[0]).sort(), ["n0", "n1", "n2"]);
    assert.equal(d.count, 3);
    assert.equal(d.digest, MembershipDigest.of([0, 1, 2].map(entity)).value);
    // A member announcing itself again changes nothing: no delta.
    announce(entity(1));
    await run(clock, 5000);
    const later = seen.slice(start + 1);
    assert.ok(later.every((m) => m.kind === "beacon"), "only beacons while nothing changes");
    assert.ok(later.length >= 1);
    const beacon = later.at(-1)!;
    assert.deepEqual({ seq: beacon.seq, count: beacon.count, digest: beacon.digest }, { seq: 1, count: 3, digest: d.digest });
    assert.ok(!("members" in beacon) && !("upsert" in beacon));
    assert.equal(tables, 0, "no table unless asked");
    mgr.stop();
  });

  it("sends the full table only to the member that asks, addressed to its certificate", async () => {
    const { clock, hub, mgr, announce } = world();
    mgr.start();
    await run(clock, 4000);
    for (let i = 0; i < 5; i++) announce(entity(i));
    await run(clock, 200);
    const asker = hub.attach({ CN: "dns1", OU: "dns" });
    const bystander = hub.attach({ CN: "dns2", OU: "dns" });
    const got: MembershipTablePart[] = [];
    let other = 0;
    asker.subscribe("Thor.MembersTable", (p) => got.push(p));
    bystander.subscribe("Thor.MembersTable", () => other++);
    asker.publish("Thor.MembersRequest", { reason: "start" });
    asker.publish("Thor.MembersRequest", { reason: "start" }); // twice in one window: answered once
    await run(clock, 200);
    assert.equal(got.length, 1);
    assert.equal(other, 0, "the bystander did not ask and gets nothing");
    const assembled = new TableAssembler().add(got[0]!)!;
    const table = decodeTable(assembled.header, assembled.data);
    assert.ok(table.ok);
    assert.deepEqual(table.members.map((m) => m.id), ["n0", "n1", "n2", "n3", "n4"]);
    assert.equal(got[0]!.seq, mgr.snapshot!.seq);
    mgr.stop();
  });

  it("splits a large window into consecutive deltas a follower applies to the same membership", async () => {
    const { clock, hub, mgr, announce } = world();
    mgr.start();
    await run(clock, 4000);
    const follower = new MembershipFeed({ clock, multiply: 1 });
    follower.follow(hub.attach({ CN: "f1", OU: "node" }));
    await run(clock, 200); // its start request: the (empty) table
    assert.equal(follower.current?.members.length, 0);
    const deltas: number[] = [];
    hub.attach({ CN: "watcher", OU: "monitor" }).subscribe("Thor.Members", (m) => m.kind === "delta" && deltas.push(m.upsert.length + m.remove.length));
    const n = 2 * MAX_DELTA_OPS + 100;
    for (let i = 0; i < n; i++) announce(entity(i));
    await run(clock, 200);
    assert.deepEqual(deltas, [MAX_DELTA_OPS, MAX_DELTA_OPS, 100]);
    assert.equal(follower.current?.members.length, n);
    assert.equal(follower.current?.seq, mgr.snapshot?.seq);
    assert.equal(follower.stats.tables, 1, "followed by deltas alone after its first table");
    mgr.stop();
  });

  it("keeps each delta far below the frame limit however large the members' entries are", async () => {
    const { clock, hub, mgr } = world();
    mgr.start();
    await run(clock, 4000);
    const sizes: number[] = [];
    hub.attach({ CN: "watcher", OU: "monitor" }).subscribe("Thor.Members", (m) => m.kind === "delta" && sizes.push(JSON.stringify(m).length));
    const big = (i: number): Entity => ({ ...entity(i), attrs: Object.fromEntries(Array.from({ length: 30 }, (_, k) => [`a${k}`, "x".repeat(1000)])) });
    for (let i = 0; i < 40; i++) hub.attach({ CN: `n${i}`, OU: "node" }, ["*"], [entity(i).ip]).publish("Thor.Presence", big(i));
    await run(clock, 200);
    assert.ok(sizes.length >= 4, `${sizes.length} deltas for 40 entries of 30 kB`);
    assert.ok(sizes.every((b) => b < 300 * 1024), `delta sizes ${sizes.join(", ")}`);
    assert.equal(mgr.snapshot?.members.length, 40);
    mgr.stop();
  });
});


describe("manager: every event server out of reach (issue 15 item 5)", () => {
  /** A bus that can be cut: while `down`, nothing is published or delivered, as when every event server is unreachable. */
  function gated(bus: EventBus, state: { down: boolean }): EventBus {
    return {
      publish: (topic, payload, options) => !state.down && bus.publish(topic, payload, options),
      subscribe: (topic, handler) => bus.subscribe(topic, (p, m) => (state.down ? undefined : handler(p, m))),
    };
  }

  it("expires nobody, keeps one active manager and its term, and publishes no change when the network comes back", async () => {
    const clock = new ManualClock();
    const hub = new LocalHub();
    const outage = { down: false };
    const opts = { logger: silentLogger, clock, heartbeatMs: 1000, deadMs: 3000, memberTimeoutMs: 3000, snapshotIntervalMs: 2000, hearing: () => !outage.down };
    const mgr1 = new Manager({ ...opts, bus: gated(hub.attach({ CN: "mgr1", OU: "manager" }), outage), id: "mgr1", ip: "10.0.0.1", priority: 1 });
    const mgr2 = new Manager({ ...opts, bus: gated(hub.attach({ CN: "mgr2", OU: "manager" }), outage), id: "mgr2", ip: "10.0.0.2", priority: 2 });
    const nodes = [0, 1, 2, 3, 4].map((i) => ({ e: entity(i), bus: gated(hub.attach({ CN: `n${i}`, OU: "node" }, ["*"], [entity(i).ip]), outage) }));
    const seen: MembershipMessage[] = [];
    gated(hub.attach({ CN: "watcher", OU: "monitor" }), outage).subscribe("Thor.Members", (m) => seen.push(m));
    mgr1.start();
    mgr2.start();
    const live = async (ms: number) => {
      for (let t = 0; t < ms; t += 1000) {
        for (const n of nodes) n.bus.publish("Thor.Presence", n.e);
        await run(clock, 1000);
      }
    };
    await live(8000);
    assert.equal(mgr1.isActive, true);
    assert.equal(mgr2.isActive, false);
    const term = mgr1.snapshot!.epoch;
    assert.equal(mgr1.snapshot!.members.length, 5);

    outage.down = true;
    await run(clock, 20_000);
    assert.equal(mgr1.isActive, true, "the active manager keeps its role while it hears nothing");
    assert.equal(mgr2.isActive, false, "the standby does not take over for a silence it cannot tell from death");
    assert.equal(mgr1.snapshot!.members.length, 5, "nobody expired during the outage");

    outage.down = false;
    const from = seen.length;
    await live(10_000);
    assert.equal(mgr1.isActive, true);
    assert.equal(mgr2.isActive, false);
    assert.equal(mgr1.snapshot!.epoch, term, "same term: no takeover");
    assert.equal(mgr1.snapshot!.members.length, 5);
    const after = seen.slice(from);
    assert.ok(after.length > 0, "beacons again");
    assert.ok(after.every((m) => m.kind === "beacon" && m.epoch === term && m.count === 5), `only beacons of the same version: ${JSON.stringify(after.map((m) => [m.kind, m.epoch, m.count]))}`);
    assert.equal(mgr1.counters.deafIntervals, 1);
    mgr1.stop();
    mgr2.stop();
  });
});

describe("manager: a minority of the event servers (issue 15, manager partition)", () => {
  it("an active manager that hears no majority publishes nothing: no delta, no beacon, no table, no heartbeat; and it takes over nothing", async () => {
    const clock = new ManualClock();
    const hub = new LocalHub();
    const quorum = { mgr1: true };
    const opts = { logger: silentLogger, clock, heartbeatMs: 1000, deadMs: 3000, memberTimeoutMs: 3000, snapshotIntervalMs: 2000 };
    // mgr1's own link still works (the event server of its side), but it hears no majority of them.
    const mgr1 = new Manager({ ...opts, bus: hub.attach({ CN: "mgr1", OU: "manager" }), id: "mgr1", ip: "10.0.0.1", priority: 1, hearing: () => quorum.mgr1 });
    const seen: Array<{ topic: string; from: string }> = [];
    const watcher = hub.attach({ CN: "n9", OU: "node" }, ["*"], ["10.2.0.9"]);
    watcher.subscribe("Thor.Members", (m) => seen.push({ topic: "members", from: m.manager }));
    watcher.subscribe("Thor.MembersTable", (p) => seen.push({ topic: "table", from: p.manager }));
    watcher.subscribe("Thor.Manager", (hb) => seen.push({ topic: "heartbeat", from: hb.id }));
    mgr1.start();
    const n0 = hub.attach({ CN: "n0", OU: "node" }, ["*"], [entity(0).ip]);
    for (let t = 0; t < 6000; t += 1000) {
      n0.publish("Thor.Presence", entity(0));
      await run(clock, 1000);
    }
    assert.equal(mgr1.isActive, true);
    quorum.mgr1 = false;
    await run(clock, 1000); // decided at the next heartbeat
    const from = seen.length;
    // A new member is heard and a table is asked for, on the minority side.
    hub.attach({ CN: "n1", OU: "node" }, ["*"], [entity(1).ip]).publish("Thor.Presence", entity(1));
    watcher.publish("Thor.MembersRequest", { reason: "start" });
    await run(clock, 5000);
    assert.deepEqual(seen.slice(from), [], "nothing of mgr1 reaches the minority side");
    // A standby that hears no majority does not take over either, whatever it hears.
    const mgr2 = new Manager({ ...opts, bus: hub.attach({ CN: "mgr2", OU: "manager" }), id: "mgr2", ip: "10.0.0.2", priority: 2, hearing: () => false });
    mgr2.start();
    await run(clock, 10_000);
    assert.equal(mgr2.isActive, false);
    // The majority comes back: the change held back goes out as a delta of the same term.
    quorum.mgr1 = true;
    n0.publish("Thor.Presence", entity(0));
    hub.attach({ CN: "n1", OU: "node" }, ["*"], [entity(1).ip]).publish("Thor.Presence", entity(1));
    await run(clock, 2000);
    assert.ok(seen.slice(from).some((s) => s.topic === "members" && s.from === "mgr1"));
    assert.equal(mgr1.snapshot!.members.length, 2);
    mgr1.stop();
    mgr2.stop();
  });
});

describe("manager: quorum of event servers", () => {
  it("is a strict majority of the known servers, counted on links heard within the window", () => {
    assert.deepEqual([1, 2, 3, 4, 5].map(eventServerQuorum), [1, 2, 2, 3, 3]);
    const links = (total: number, heard: number) => ({ serverCount: total, heardCount: () => heard });
    assert.equal(hearsQuorum(links(3, 2), 1000), true);
    assert.equal(hearsQuorum(links(3, 1), 1000), false);
    assert.equal(hearsQuorum(links(2, 1), 1000), false, "half is no majority");
    assert.equal(hearsQuorum(links(0, 0), 1000), false);
    assert.equal(hearingWindowMs(1000, 6000), 3000);
    assert.equal(hearingWindowMs(250, 2000), 1000);
    assert.equal(hearingWindowMs(1000, 1000), 1000, "at least one heartbeat");
  });
});
