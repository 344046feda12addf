import { test } from "node:test";
import assert from "node:assert/strict";
import { ManualClock, silentLogger } from "../../src/base/index.js";
import { Authority, MembershipFollower } from "../../src/dns/index.js";
import { LocalHub } from "../../src/events/index.js";
import type { Entity, MembershipSnapshot } from "../../src/overlay/index.js";
import { waitFor } from "../support/wait-for.js";
import { beaconOf, deltaOf, publishTable } from "../support/membership.js";

const sip = (id: string, ip: string): Entity => ({ id, ip, roles: ["sip_proxy"], version: "t", ports: { sip_udp: 5060 }, attrs: {}, startedAt: 1 });
const snap = (epoch: number, seq: number, members: Entity[]): MembershipSnapshot => ({ epoch, seq, manager: "mgr1", at: 1_800_000_000_000 + seq * 1000, members });

function targets(a: Authority): string[] {
  const set = a.zones()[0]!.node("_sip._udp.example.com")?.sets.get("SRV");
  return (set?.records ?? []).map((r) => (r as { data: { target: string } }).data.target).sort();
}

test("snapshots are applied in (epoch, seq) order, only from a manager's certificate, and changes are reported", async () => {
  const hub = new LocalHub();
  const manager = hub.attach({ CN: "mgr1", OU: "manager" });
  const impostor = hub.attach({ CN: "node9", OU: "node" });
  const clock = new ManualClock();
  const authority = new Authority([{ origin: "example.com", nameservers: [{ name: "ns1.example.com" }] }], 1);
  const changes: number[] = [];
  const follower = new MembershipFollower({ bus: hub.attach({ CN: "dns1", OU: "dns" }), authority, logger: silentLogger, clock, snapshotStaleMs: 20_000, onChange: (a) => changes.push(a.serial) });
  follower.start();

  publishTable(manager, snap(1, 2, [sip("node1", "192.0.2.1"), sip("node2", "192.0.2.2")]));
  await waitFor(() => targets(authority).length === 2, { message: "first snapshot applied" });
  assert.equal(changes.length, 1);

  publishTable(impostor, snap(9, 9, []));
  publishTable(manager, snap(1, 1, [])); // older: ignored
  const two = [sip("node1", "192.0.2.1"), sip("node2", "192.0.2.2")];
  manager.publish("Thor.Members", deltaOf(two, two, { epoch: 1, seq: 3 })); // same content: no change
  manager.publish("Thor.Members", beaconOf([sip("node1", "192.0.2.1")], { epoch: 2, seq: 0 })); // new term: the table is asked for
  await waitFor(() => follower.feed.wantsTable === "term", { message: "table asked for" });
  publishTable(manager, snap(2, 0, [sip("node1", "192.0.2.1")]));
  await waitFor(() => targets(authority).length === 1, { message: "new term applied" });
  assert.deepEqual(targets(authority), ["node1.example.com"]);
  assert.equal(changes.length, 2);
  assert.equal(follower.current?.epoch, 2);

  // A restarted manager cluster starts its terms anew: taken once nothing came for a while.
  clock.advance(25_000);
  publishTable(manager, snap(1, 1, [sip("node3", "192.0.2.3")]));
  await waitFor(() => targets(authority)[0] === "node3.example.com", { message: "stale snapshot replaced" });
  follower.stop();
});
