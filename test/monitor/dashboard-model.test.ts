import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { systemClock } from "../../src/base/index.js";
import { LocalHub } from "../../src/events/index.js";
import { dashboardState, memberFigures, NetworkView } from "../../src/monitor/index.js";
import type { Entity } from "../../src/overlay/index.js";
import { deltaOf, publishTable } from "../support/membership.js";

/** LocalHub delivers on a microtask. */
const delivered = () => new Promise<void>((r) => setImmediate(r));

const entity = (id: string, ip: string, roles: string[], attrs: Entity["attrs"] = {}): Entity => ({ id, ip, roles, version: "1.2.3", ports: {}, attrs, startedAt: 1 });

describe("dashboard model", () => {
  it("takes each figure from its role's counters and leaves out what no role reports", () => {
    const f = memberFigures({ at: 5, roles: { sip_proxy: { registrations: 7, bindings: 3, calls: 2, transactions: 1 }, media_relay: { sessions: 4 }, xcap_server: { registrations: 99 } } });
    assert.deepEqual(f, { at: 5, registrations: 7, bindings: 3, calls: 2, transactions: 1, relaySessions: 4 });
    assert.deepEqual(memberFigures({ at: 6, roles: { dns: { queries: 12, udpQueries: 10 } } }), { at: 6, dnsQueries: 12 });
  });

  it("lists members in id order with their shares and state, statistics of non-members apart, and forgets a member's statistics when it leaves", async () => {
    const hub = new LocalHub();
    const view = new NetworkView(systemClock, 200);
    view.attach(hub.attach({ OU: "monitor", CN: "m" }));
    const manager = hub.attach({ OU: "manager", CN: "mgr1" });
    const node = hub.attach({ OU: "node", CN: "b" });
    const first = [entity("b", "10.0.0.2", ["sip_proxy"], { draining: true }), entity("a", "10.0.0.1", ["sip_proxy"])];
    publishTable(manager, { epoch: 1, seq: 1, manager: "mgr1", at: 1, members: first });
    node.publish("Thor.Statistics", { id: "b", ip: "10.0.0.2", at: 2, roles: { sip_proxy: { bindings: 5 } } });
    node.publish("Thor.Statistics", { id: "dns1", ip: "10.0.0.53", at: 3, roles: { dns: { queries: 9 } } });
    await delivered();
    const st = dashboardState(view, { now: 10 });
    assert.deepEqual(st.members.map((m) => [m.id, m.draining, m.figures?.bindings]), [["a", false, undefined], ["b", true, 5]]);
    assert.ok(Math.abs((st.members[0]!.shares["sip_proxy"] ?? 0) + (st.members[1]!.shares["sip_proxy"] ?? 0) - 1) < 1e-9);
    assert.deepEqual(st.others, [{ id: "dns1", ip: "10.0.0.53", figures: { at: 3, dnsQueries: 9 } }]);
    manager.publish("Thor.Members", deltaOf(first, [entity("a", "10.0.0.1", ["sip_proxy"])], { epoch: 1, seq: 2, at: 2 }));
    await delivered();
    const after = dashboardState(view, { now: 11, events: 2 });
    assert.deepEqual(after.members.map((m) => m.id), ["a"]);
    assert.equal(view.statistics.has("b"), false);
    assert.deepEqual(after.rings, [{ role: "sip_proxy", arcs: [{ id: "a", ip: "10.0.0.1", start: 0, end: 1, share: 1 }] }]);
    assert.equal(after.events.length, 2);
    assert.match(after.events[1]!.text, /b \(10\.0\.0\.2\) left/);
  });

  it("keeps at most maxStatistics reports, forgetting the least recently reported", async () => {
    const hub = new LocalHub();
    const view = new NetworkView(systemClock, 200, 3);
    view.attach(hub.attach({ OU: "monitor", CN: "m" }));
    const node = hub.attach({ OU: "node", CN: "x" });
    for (const id of ["n1", "n2", "n3", "n1", "n4"]) node.publish("Thor.Statistics", { id, ip: "10.0.0.9", at: 1, roles: {} });
    await delivered();
    assert.deepEqual([...view.statistics.keys()], ["n3", "n1", "n4"]);
  });
});
