import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { silentLogger, systemClock } from "../../src/base/index.js";
import { RoleMap } from "../../src/overlay/index.js";
import { PresenceAgent } from "../../src/roles/presence-agent.js";
import type { SubscribeCall } from "../../src/roles/presence-wire.js";
import { DistributedLocation } from "../../src/roles/sip-location.js";
import { Registrar, SipResponse } from "../../src/sip/index.js";
import { ControlMesh } from "../support/control-mesh.js";
import { waitFor } from "../support/wait-for.js";

/**
 * Replication of a presentity between its two holders, on real control
 * links in this process: the whole state reaches the replica, and
 * pushes are coalesced (one in flight per holder), so many subscriptions
 * to one presentity do not cost one growing push each.
 */
describe("presence replication between holders", () => {
  const IDS = ["n1", "n2"];
  const D = "example.test";
  let mesh: ControlMesh;
  let map: RoleMap;
  const agents = new Map<string, PresenceAgent>();
  const locations: DistributedLocation[] = [];
  const notifies: string[] = [];

  before(async () => {
    mesh = await ControlMesh.create(IDS, 36);
    map = RoleMap.fromMembers(IDS.map((id) => mesh.entity(id, ["sip_proxy"])));
    for (const id of IDS) {
      const location = new DistributedLocation({ self: id, control: mesh.link(id), registrar: new Registrar(), clock: systemClock, logger: silentLogger, map: () => map, replicas: 2, callTimeoutMs: 1000 });
      location.onMembership(map);
      locations.push(location);
      // The NOTIFYs leave through the SIP proxy's originator in a node; here they are recorded and answered 200 at once.
      const agent = new PresenceAgent({
        clock: systemClock,
        logger: silentLogger,
        withoutRules: "allow",
        limits: { maxWatchers: 1000 },
        uac: {
          send: (req, _target, tu) => {
            notifies.push(`${id} ${req.get("call-id")}`);
            setImmediate(() => tu.onResponse(new SipResponse(200, "OK", [], Buffer.alloc(0))));
            return Promise.resolve(true);
          },
        },
        cluster: { self: id, control: mesh.link(id), location, map: () => map },
      });
      agent.onMembership(map);
      agents.set(id, agent);
    }
  });
  after(async () => {
    for (const l of locations) l.stop();
    await mesh?.stop();
  });

  const call = (i: number, presentity: string): SubscribeCall => ({
    id: `sub-${i}`,
    initial: true,
    event: "presence",
    presentity,
    watcher: `sip:w${i}@watchers.test`,
    expires: 600,
    dialog: { callId: `sub-${i}`, localTag: `l${i}`, remoteTag: `r${i}`, localUri: `sip:${presentity}`, remoteUri: `sip:w${i}@watchers.test`, remoteTarget: `sip:w${i}@${mesh.ip("n1")}:5999`, routeSet: [], contact: `<sip:${presentity}>`, reach: { flowId: "", transport: "udp", source: { address: mesh.ip("n1"), port: 5999 } } },
  });

  it("800 SUBSCRIBEs to one presentity reach its replica in a few coalesced pushes, not one growing push each", async () => {
    const presentity = `alice@${D}`;
    const [first, second] = map.successors("sip_proxy", presentity, 2).map((e) => agents.get(e.id)!);
    assert.ok(first && second);
    const answers = await Promise.all(Array.from({ length: 800 }, (_, i) => first.subscribe(call(i, presentity))));
    assert.ok(answers.every((a) => a.status === 200), "every SUBSCRIBE answered 200");
    await waitFor(() => second.notifier.entry(presentity).subscriptions.length === 800, { timeoutMs: 10_000, message: "the replica holds all 800 subscriptions" });
    // Each push carries the presentity's whole state: one per SUBSCRIBE (800) would carry 320,400 subscriptions in all.
    assert.ok(first.stats.replicatedOut < 40, `the holder pushed the presentity ${first.stats.replicatedOut} times`);
    const ids = new Set(second.notifier.entry(presentity).subscriptions.map((s) => s.id));
    assert.equal(ids.size, 800);
    // The replica adopted the newest state: the last change is there too.
    assert.ok(ids.has("sub-799"));
    // Only the responsible node sends the immediate NOTIFYs; the replica keeps quiet.
    const firstId = map.successors("sip_proxy", presentity, 1)[0]!.id;
    await waitFor(() => notifies.filter((n) => n.startsWith(`${firstId} `)).length === 800, { timeoutMs: 10_000, message: "800 immediate NOTIFYs" });
    assert.equal(notifies.filter((n) => !n.startsWith(`${firstId} `)).length, 0);
  });
});
