import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { silentLogger, sleep, systemClock, type Clock } from "../../src/base/index.js";
import { RoleMap } from "../../src/overlay/index.js";
import { DistributedLocation } from "../../src/roles/index.js";
import { LocationUnavailableError, Registrar, type RegisterData } from "../../src/sip/index.js";
import { ControlMesh } from "../support/control-mesh.js";
import { waitFor } from "../support/wait-for.js";

/**
 * The distributed location service (src/roles/sip-location.ts) of four
 * nodes on real control links in this process (test/support/control-mesh.ts,
 * testNet(34)): holders, replication, hand-over on a membership change,
 * fail-over past a dead holder, and the error when no holder answers.
 */
const IDS = ["n1", "n2", "n3", "n4"] as const;
type Id = (typeof IDS)[number];

describe("distributed location service on in-process control links", { timeout: 60_000 }, () => {
  let mesh: ControlMesh;
  let map: RoleMap;
  const nodes = new Map<Id, DistributedLocation>();
  const loc = (id: Id) => nodes.get(id)!;
  /** Wall-clock skew of every node's clock: moved forward to leave a membership change's hand-over grace behind. */
  let skew = 0;
  const clock: Clock = { now: () => systemClock.now(), wallNow: () => systemClock.wallNow() + skew, setTimeout: (fn, ms) => systemClock.setTimeout(fn, ms), clearTimeout: (h) => systemClock.clearTimeout(h) };
  const now = () => clock.wallNow();

  const data = (user: string, cseq = 1): RegisterData => ({
    callId: `call-${user}`,
    cseq,
    contacts: [`<sip:${user}@192.0.2.7:5060>`],
    expires: "600",
    gruu: false,
    path: [],
    flow: { id: `udp:${user}`, transport: "udp", source: { address: "192.0.2.7", port: 5060 } },
  });

  /** An AOR whose holders are exactly `holders`, responsible node first, in the current map. */
  const aorHeldBy = (...holders: Id[]): string => namedAorHeldBy("user", ...holders);
  const namedAorHeldBy = (name: string, ...holders: Id[]): string => {
    for (let i = 0; i < 10_000; i++) {
      const aor = `${name}${i}@example.com`;
      if (loc("n1").holders(aor).join() === holders.join()) return aor;
    }
    throw new Error(`no AOR held by ${holders.join(", ")}`);
  };

  const apply = (m: RoleMap) => {
    map = m;
    for (const l of nodes.values()) l.onMembership(m);
  };

  /** Time a member's location takes before answering a `sip.lookup` (a slow holder, alive). */
  const delays = new Map<Id, number>();

  before(async () => {
    mesh = await ControlMesh.create(IDS, 34);
    for (const id of IDS) {
      const link = mesh.link(id);
      const handle = link.handle.bind(link);
      link.handle = (method, handler) =>
        handle(method, async (payload, peer) => {
          const delay = method === "sip.lookup" ? (delays.get(id) ?? 0) : 0;
          if (delay > 0) await sleep(delay);
          return handler(payload, peer);
        });
    }
    for (const id of IDS) nodes.set(id, new DistributedLocation({ self: id, control: mesh.link(id), registrar: new Registrar(), clock, logger: silentLogger, map: () => map, replicas: 2, callTimeoutMs: 1000 }));
    apply(RoleMap.fromMembers(["n1", "n2", "n3"].map((id) => mesh.entity(id, ["sip_proxy"]))));
  });

  after(async () => {
    for (const l of nodes.values()) l.stop();
    await mesh?.stop();
  });

  it("an edge that holds no copy registers with the responsible node, which replicates to the other holder", async () => {
    const aor = aorHeldBy("n2", "n3");
    const outcome = await loc("n1").register(aor, data("a"));
    assert.equal(outcome.status, 200);
    assert.equal(loc("n1").stats.remoteRegisters, 1);
    assert.equal(loc("n2").store.lookup(aor, now()).length, 1, "applied by the responsible node");
    await waitFor(() => loc("n3").store.lookup(aor, now()).length === 1, { message: "replicated to n3" });
    assert.equal(loc("n1").store.lookup(aor, now()).length, 0, "the edge keeps no copy");
    const found = await loc("n1").lookup(aor);
    assert.deepEqual(found.map((b) => b.contact), ["<sip:a@192.0.2.7:5060>"]);
  });

  it("a holder registering an AOR applies it itself and replicates it", async () => {
    const aor = aorHeldBy("n1", "n2");
    const sent = loc("n1").stats.remoteRegisters;
    assert.equal((await loc("n1").register(aor, data("b"))).status, 200);
    assert.equal(loc("n1").stats.remoteRegisters, sent, "no control call for its own AOR");
    await waitFor(() => loc("n2").store.lookup(aor, now()).length === 1, { message: "replicated to n2" });
  });

  it("a replica that is the edge keeps the responsible node's answer as its copy: no push to it", async () => {
    const aor = namedAorHeldBy("edge", "n2", "n3");
    const pushed = loc("n2").stats.replicatedOut;
    const kept = loc("n3").stats.answeredAsReplica;
    assert.equal((await loc("n3").register(aor, data("e"))).status, 200);
    assert.equal(loc("n3").stats.answeredAsReplica, kept + 1);
    assert.deepEqual(loc("n3").store.lookup(aor, now()).map((b) => b.contact), ["<sip:e@192.0.2.7:5060>"], "the copy is there with the answer");
    assert.equal(loc("n2").stats.replicatedOut, pushed, "the responsible node pushed nothing to n3");
    // The state is the same on both holders, and a later change by the responsible node still reaches the replica.
    assert.deepEqual(loc("n2").store.lookup(aor, now()), loc("n3").store.lookup(aor, now()));
    assert.equal((await loc("n1").register(aor, data("e", 2))).status, 200);
    await waitFor(() => loc("n3").store.lookup(aor, now())[0]?.cseq === 2, { message: "the next change pushed to n3" });
    // A member that does not hold the AOR cannot have its push skipped by claiming to be a replica.
    const other = namedAorHeldBy("claim", "n2", "n3");
    const answer = (await mesh.link("n1").call("n2", "sip.register", { aor: other, data: data("c"), replica: true })) as { status: number; version?: number };
    assert.equal(answer.status, 200);
    assert.equal(answer.version, undefined, "no version for a caller that does not hold the AOR");
    await waitFor(() => loc("n3").store.lookup(other, now()).length === 1, { message: "pushed to n3 as usual" });
  });

  it("a replica asked the moment the responsible node answered a REGISTER (before the push) asks it", async () => {
    skew = 20_000; // past the hand-over grace of the last membership change: only the replica path can find it
    const aor = namedAorHeldBy("fresh", "n2", "n3");
    assert.equal((await loc("n2").register(aor, data("r"))).status, 200);
    assert.equal(loc("n3").store.lookup(aor, now()).length, 0, "not pushed yet");
    const misses = loc("n3").stats.replicaMissLookups;
    assert.deepEqual((await loc("n3").lookup(aor)).map((b) => b.contact), ["<sip:r@192.0.2.7:5060>"]);
    assert.equal(loc("n3").stats.replicaMissLookups, misses + 1);
    await waitFor(() => loc("n3").store.lookup(aor, now()).length === 1, { message: "replicated to n3" });
    // With its copy the replica answers by itself; an AOR nobody registered costs it one question.
    assert.equal((await loc("n3").lookup(aor)).length, 1);
    assert.equal((await loc("n3").lookup(namedAorHeldBy("nobody", "n2", "n3"))).length, 0);
    assert.equal(loc("n3").stats.replicaMissLookups, misses + 2);
    // The responsible node never asks its replica.
    const asked = loc("n2").stats.replicaMissLookups;
    assert.equal((await loc("n2").lookup(namedAorHeldBy("nobody", "n2", "n3"))).length, 0);
    assert.equal(loc("n2").stats.replicaMissLookups, asked);
  });

  it("hands over the AORs a joining node now holds, and the nodes that no longer hold them drop them", async () => {
    const aors = Array.from({ length: 60 }, (_, i) => `ho${i}@example.com`);
    for (const [i, aor] of aors.entries()) assert.equal((await loc("n1").register(aor, data(`ho${i}`))).status, 200);
    for (const aor of aors) await waitFor(() => loc("n1").holders(aor).every((h) => loc(h as Id).store.lookup(aor, now()).length === 1), { message: `${aor} on both holders` });
    const previous = RoleMap.fromMembers(map.members);
    apply(RoleMap.fromMembers(["n1", "n2", "n3", "n4"].map((id) => mesh.entity(id, ["sip_proxy"]))));
    const moved = aors.filter((aor) => loc("n1").holders(aor).includes("n4"));
    assert.ok(moved.length > 0 && moved.length < aors.length, `n4 holds some of them: ${moved.length}`);
    await waitFor(() => moved.every((aor) => loc("n4").store.lookup(aor, now()).length === 1), { message: `${moved.length} AORs handed over to n4` });
    // A node that held an AOR before and not now drops it once it is handed over.
    const dropped = moved.flatMap((aor) => previous.successors("sip_proxy", aor, 2).map((e) => e.id as Id).filter((h) => !loc("n1").holders(aor).includes(h)).map((h) => [h, aor] as const));
    assert.ok(dropped.length > 0);
    await waitFor(() => dropped.every(([h, aor]) => loc(h).store.lookup(aor, now()).length === 0), { message: "former holders dropped what they handed over" });
    for (const aor of aors) assert.equal((await loc("n1").lookup(aor)).length, 1, `${aor} still found`);
  });

  it("a lookup waits for holders that are alive but slower than the call timeout, asking the next one beside, not instead", async () => {
    const aor = namedAorHeldBy("slow", "n2", "n3");
    const edge = IDS.find((id) => id !== "n2" && id !== "n3")!;
    assert.equal((await loc(edge).register(aor, data("slow"))).status, 200);
    await waitFor(() => loc("n3").store.lookup(aor, now()).length === 1, { message: "replicated to n3" });
    // Both answer 1.2 call timeouts late: given up one after the other, the lookup would fail after two timeouts.
    delays.set("n2", 1200).set("n3", 1200);
    const failovers = loc(edge).stats.holderFailovers;
    const asked = loc(edge).stats.remoteLookups;
    try {
      assert.equal((await loc(edge).lookup(aor)).length, 1);
    } finally {
      delays.clear();
    }
    assert.equal(loc(edge).stats.holderFailovers, failovers, "no holder given up");
    assert.equal(loc(edge).stats.remoteLookups, asked + 2, "the replica was asked beside the responsible node after one call timeout");
  });

  it("when the responsible node is dead its replica answers, and the dead node is asked last from then on", async () => {
    const aor = aorHeldBy("n2", "n3");
    const edge = IDS.find((id) => id !== "n2" && id !== "n3")!;
    assert.equal((await loc(edge).register(aor, data("c"))).status, 200);
    await waitFor(() => loc("n3").store.lookup(aor, now()).length === 1, { message: "replicated to n3" });
    await mesh.kill("n2");
    const failovers = loc(edge).stats.holderFailovers;
    assert.equal((await loc(edge).lookup(aor)).length, 1, "the replica answered");
    assert.equal(loc(edge).stats.holderFailovers, failovers + 1);
    // Suspected: the replica is asked first now, no second fail-over.
    assert.equal((await loc(edge).lookup(aor)).length, 1);
    assert.equal(loc(edge).stats.holderFailovers, failovers + 1);
    // A REGISTER goes to the replica as well.
    assert.equal((await loc(edge).register(aor, data("c", 2))).status, 200);
  });

  it("when no holder answers, lookups and registrations fail with LocationUnavailableError", async () => {
    const aor = aorHeldBy("n2", "n3");
    await mesh.kill("n3");
    const edge = IDS.find((id) => id !== "n2" && id !== "n3")!;
    await assert.rejects(loc(edge).lookup(aor), (err) => err instanceof LocationUnavailableError && /no holder of .* answered sip\.lookup \(n2, n3\)/.test(err.message));
    await assert.rejects(loc(edge).register(aor, data("d")), (err) => err instanceof LocationUnavailableError && /sip\.register/.test(err.message));
  });
});
