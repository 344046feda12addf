import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { ManualClock, silentLogger } from "../../src/base/index.js";
import { LocalHub } from "../../src/events/index.js";
import { Manager } from "../../src/manager/index.js";
import { AdvertisedRole, DatabaseAnnouncer, NodeRuntime } from "../../src/node/index.js";

const flush = () => new Promise<void>((r) => setImmediate(r));

/** Advance the manual clock in steps, letting the in-process bus deliver in between. */
async function run(clock: ManualClock, ms: number, step = 100): Promise<void> {
  for (let t = 0; t < ms; t += step) {
    clock.advance(step);
    await flush();
  }
}

function world() {
  const clock = new ManualClock();
  const hub = new LocalHub();
  const manager = (id: string, priority: number) =>
    new Manager({ bus: hub.attach({ CN: id, OU: "manager" }), logger: silentLogger, clock, id, ip: `10.0.0.${priority}`, priority, heartbeatMs: 1000, deadMs: 3000, memberTimeoutMs: 6000, snapshotIntervalMs: 5000 });
  const buses = new Map<string, ReturnType<LocalHub["attach"]>>();
  const node = (id: string, ip: string, roles: string[], certRoles: string[] = ["*"]) =>
    new NodeRuntime({ bus: buses.set(id, hub.attach({ CN: id, OU: "node" }, certRoles, [ip])).get(id)!, logger: silentLogger, clock, id, ip, version: "test", roles: roles.map((r) => new AdvertisedRole(r)), ports: { lookup: 9500 }, presenceIntervalMs: 2000 });
  return { clock, hub, manager, node, buses };
}

describe("membership with managers and nodes (in-process bus, manual clock)", () => {
  it("nodes join, get the same ring, and a graceful leave is applied at once", async () => {
    const { clock, manager, node } = world();
    const m = manager("mgr1", 10);
    m.start();
    const nodes = [node("n1", "10.1.0.1", ["sip_proxy"]), node("n2", "10.1.0.2", ["sip_proxy", "media_relay"]), node("n3", "10.1.0.3", ["media_relay"])];
    for (const n of nodes) await n.start();
    await run(clock, 4000);
    assert.equal(m.isActive, true);
    for (const n of nodes) {
      assert.deepEqual(n.currentSnapshot()?.members.map((x) => x.id), ["n1", "n2", "n3"]);
      assert.equal(n.roleMap()?.lookup("sip_proxy", "alice@example.com")?.ip, nodes[0]!.roleMap()?.lookup("sip_proxy", "alice@example.com")?.ip);
    }
    assert.equal(nodes[0]!.roleMap()?.isOnline("10.1.0.3", "media_relay"), true);
    await nodes[2]!.stop();
    await run(clock, 100);
    assert.deepEqual(nodes[0]!.currentSnapshot()?.members.map((x) => x.id), ["n1", "n2"]);
  });

  it("a silent node expires after the member timeout, and comes back when it announces again", async () => {
    const { clock, manager, node, buses } = world();
    const m = manager("mgr1", 10);
    m.start();
    const a = node("a", "10.1.0.1", ["sip_proxy"]);
    const b = node("b", "10.1.0.2", ["sip_proxy"]);
    await a.start();
    await b.start();
    await run(clock, 4000);
    assert.equal(m.snapshot?.members.length, 2);
    // Crash b: detached from the bus, nothing more is heard from it.
    buses.get("b")!.close();
    await run(clock, 5000);
    assert.equal(m.snapshot?.members.length, 2, "not expired before the timeout");
    await run(clock, 2100);
    assert.deepEqual(m.snapshot?.members.map((x) => x.id), ["a"]);
    assert.deepEqual(a.currentSnapshot()?.members.map((x) => x.id), ["a"]);
  });

  it("refuses a presence whose id is not the certificate CN, or whose roles the certificate does not allow", async () => {
    const { clock, hub, manager, node } = world();
    const m = manager("mgr1", 10);
    m.start();
    const honest = node("n1", "10.1.0.1", ["sip_proxy"]);
    const limited = node("n2", "10.1.0.2", ["sip_proxy", "media_relay"], ["media_relay"]);
    await honest.start();
    await limited.start();
    hub.attach({ CN: "n3", OU: "node" }).publish("Thor.Presence", { ...honest.self(), ip: "10.9.9.9" });
    await run(clock, 4000);
    assert.deepEqual(m.snapshot?.members.map((x) => `${x.id}@${x.ip}`), ["n1@10.1.0.1"]);
  });

  it("the standby takes over when the active manager dies and publishes a higher epoch with the same members", async () => {
    const { clock, hub, node } = world();
    const mk = (id: string, p: number, bus = hub.attach({ CN: id, OU: "manager" })) =>
      ({ bus, m: new Manager({ bus, logger: silentLogger, clock, id, ip: "10.0.0.1", priority: p, heartbeatMs: 1000, deadMs: 3000, memberTimeoutMs: 6000, snapshotIntervalMs: 5000 }) });
    const one = mk("mgr1", 10);
    const two = mk("mgr2", 20);
    one.m.start();
    two.m.start();
    const n = node("n1", "10.1.0.1", ["sip_proxy"]);
    await n.start();
    await run(clock, 4500);
    assert.equal(one.m.isActive, true);
    assert.equal(two.m.isActive, false);
    const epoch = n.currentSnapshot()!.epoch;
    one.bus.close();
    one.m.stop();
    await run(clock, 4500);
    assert.equal(two.m.isActive, true);
    assert.ok(n.currentSnapshot()!.epoch > epoch);
    assert.equal(n.currentSnapshot()!.manager, "mgr2");
    assert.deepEqual(n.currentSnapshot()!.members.map((x) => x.id), ["n1"]);
  });

  it("members pick the lowest (priority, ip) database among the live announcements", async () => {
    const { clock, hub, manager, node } = world();
    manager("mgr1", 10).start();
    const n = node("n1", "10.1.0.1", ["sip_proxy"]);
    await n.start();
    const primary = new DatabaseAnnouncer(hub.attach({ CN: "db1", OU: "database" }), clock, { id: "db1", ip: "10.2.0.2", dburi: "postgres://db1/thor", priority: 10 });
    const secondary = new DatabaseAnnouncer(hub.attach({ CN: "db2", OU: "database" }), clock, { id: "db2", ip: "10.2.0.1", dburi: "postgres://db2/thor", priority: 20 });
    primary.start();
    secondary.start();
    await run(clock, 1000);
    assert.equal(n.currentDatabase()?.id, "db1");
    primary.stop();
    await run(clock, 7000);
    assert.equal(n.currentDatabase()?.id, "db2");
  });
});
