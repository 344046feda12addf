/**
 * Issue 10, item 12: the manager admits into the rings only node
 * certificates (OU=node) announcing an address their certificate names;
 * refusals are logged and counted. Before, the demo's database certificate
 * (roles `*`) could join the sip_proxy ring under any address.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { ManualClock } from "../../src/base/index.js";
import { LocalHub } from "../../src/events/index.js";
import { Manager } from "../../src/manager/index.js";
import type { Entity } from "../../src/overlay/index.js";
import { MemoryLogger } from "../support/memory-logger.js";

const entity = (id: string, ip: string): Entity => ({ id, ip, roles: ["sip_proxy"], version: "t", ports: { control: 9600, sip_int: 5070 }, attrs: {}, startedAt: 1 });

async function settle(clock: ManualClock, ms: number): Promise<void> {
  for (let t = 0; t < ms; t += 100) {
    clock.advance(100);
    await new Promise((r) => setImmediate(r));
  }
}

describe("manager admission", () => {
  it("admits a node at its certificate's address and refuses other OUs and other addresses, counting each refusal", async () => {
    const clock = new ManualClock();
    const hub = new LocalHub();
    const log = new MemoryLogger();
    const m = new Manager({ bus: hub.attach({ CN: "mgr1", OU: "manager" }), logger: log, clock, id: "mgr1", ip: "10.0.0.1", heartbeatMs: 1000, deadMs: 3000, snapshotIntervalMs: 1000 });
    m.start();
    await settle(clock, 4000);
    assert.equal(m.isActive, true);

    hub.attach({ CN: "node1", OU: "node" }, ["sip_proxy"], ["10.1.0.1"]).publish("Thor.Presence", entity("node1", "10.1.0.1"));
    // The database announcer's certificate allows every role, but it is no node.
    hub.attach({ CN: "db1", OU: "database" }, ["*"], ["10.2.0.1"]).publish("Thor.Presence", entity("db1", "10.2.0.1"));
    // A node announcing an address its certificate does not name (e.g. to pull traffic elsewhere).
    hub.attach({ CN: "node2", OU: "node" }, ["sip_proxy"], ["10.1.0.2"]).publish("Thor.Presence", entity("node2", "10.66.6.6"));
    await settle(clock, 1500);

    assert.deepEqual(m.snapshot?.members.map((e) => `${e.id}@${e.ip}`), ["node1@10.1.0.1"]);
    assert.equal(m.counters.presenceRefused, 2);
    const reasons = log.entries.filter((e) => e.msg === "presence refused").map((e) => String(e.fields["reason"]));
    assert.ok(reasons.some((r) => /db1 refused: certificate OU=database, only OU=node/.test(r)), reasons.join(" | "));
    assert.ok(reasons.some((r) => /node2 at 10\.66\.6\.6 refused: its certificate names 10\.1\.0\.2/.test(r)), reasons.join(" | "));
  });
});
