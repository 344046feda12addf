/**
 * Issue 10, item 13: on the control link, `sip.replicate` is taken only
 * from a live sip_proxy member that holds the AOR, by a holder of it, with
 * versions and expiries clamped; a node that is no sip_proxy member is
 * refused. Before, any OU=node certificate could pin any AOR with
 * version/expires 1e300. Real control links on testIp(120, 30)-33.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { silentLogger, systemClock } from "../../src/base/index.js";
import { ControlLink } from "../../src/node/index.js";
import { RoleMap, type Entity } from "../../src/overlay/index.js";
import { initCa, issueCertificate, TlsIdentity } from "../../src/pki/index.js";
import { DistributedLocation } from "../../src/roles/index.js";
import { Registrar } from "../../src/sip/index.js";
import { testNet } from "../support/slot.js";

/** The limits of src/roles/sip-location.ts (MAX_CLOCK_SKEW_MS, MAX_REPLICATED_EXPIRY_MS), spelled out so this test also runs against the code before them. */
const MAX_CLOCK_SKEW_MS = 60_000;
const MAX_REPLICATED_EXPIRY_MS = 86_400_000 + MAX_CLOCK_SKEW_MS;
const ip = (n: number) => `${testNet(120)}.${30 + n}`;
const entity = (id: string, n: number, roles: string[]): Entity => ({ id, ip: ip(n), roles, version: "t", ports: { control: 9600 }, attrs: {}, startedAt: 1 });

describe("control link authorisation of the location service", { timeout: 30_000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), "thor-sec-control-"));
  const links = new Map<string, ControlLink>();
  const identities: TlsIdentity[] = [];
  // n1, n2, n4 run sip_proxy; n3 is a node of another role.
  const map = RoleMap.fromMembers([entity("n1", 1, ["sip_proxy"]), entity("n2", 2, ["sip_proxy"]), entity("n3", 3, ["media_relay"]), entity("n4", 4, ["sip_proxy"])]);
  let location: DistributedLocation;

  /** An AOR whose two holders are exactly `a` and `b`. */
  const aorHeldBy = (a: string, b: string, prefix = "user"): string => {
    for (let i = 0; i < 10_000; i++) {
      const aor = `${prefix}${i}@example.com`;
      const set = map.successors("sip_proxy", aor, 2).map((e) => e.id).sort();
      if (set.join() === [a, b].sort().join()) return aor;
    }
    throw new Error(`no AOR held by ${a} and ${b}`);
  };

  const binding = (aor: string, expires: number, cseq: number) => ({
    uri: `sip:${aor.split("@")[0]}@192.0.2.7:5060`,
    contact: `<sip:${aor.split("@")[0]}@192.0.2.7:5060>`,
    expires,
    q: 1,
    callId: `call-${cseq}`,
    cseq,
    flowId: "udp:x",
    transport: "udp",
    source: { address: "192.0.2.7", port: 5060 },
    path: [],
    updatedAt: Date.now(),
  });

  before(async () => {
    const ca = join(dir, "ca");
    await initCa(ca);
    for (const n of [1, 2, 3]) {
      await issueCertificate(ca, `n${n}`, { ou: "node", ip: [ip(n)] });
      const id = await TlsIdentity.load({ ca: join(ca, "ca.crt"), cert: join(ca, "certs", `n${n}.crt`), key: join(ca, "certs", `n${n}.key`) });
      identities.push(id);
      const link = new ControlLink({ identity: id, logger: silentLogger, host: ip(n), port: 0, dialFrom: ip(n), resolve: (m) => (links.get(m) ? { host: ip(Number(m.slice(1))), port: links.get(m)!.port } : undefined) });
      await link.start();
      links.set(`n${n}`, link);
    }
    location = new DistributedLocation({ self: "n1", control: links.get("n1")!, registrar: new Registrar(), clock: systemClock, logger: silentLogger, map: () => map, replicas: 2 });
    location.onMembership(map);
  });

  after(async () => {
    location?.stop();
    for (const l of links.values()) await l.stop();
    for (const i of identities) i.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("refuses sip.replicate and sip.register from a node that is not a live sip_proxy member", async () => {
    const aor = aorHeldBy("n1", "n2");
    await assert.rejects(links.get("n3")!.call("n1", "sip.replicate", { entries: [{ aor, version: Date.now(), bindings: [binding(aor, Date.now() + 60_000, 1)] }] }), /sip\.replicate is for live sip_proxy members; n3 is not one/);
    assert.equal(location.store.lookup(aor, Date.now()).length, 0);
  });

  it("clamps a version and an expiry far in the future, so the binding neither lives forever nor blocks later updates", async () => {
    const aor = aorHeldBy("n1", "n2");
    const now = Date.now();
    await links.get("n2")!.call("n1", "sip.replicate", { entries: [{ aor, version: 1e300, bindings: [binding(aor, 1e300, 1)] }] });
    const [b] = location.store.lookup(aor, Date.now());
    assert.ok(b, "the binding was taken");
    assert.ok(b.expires <= Date.now() + MAX_REPLICATED_EXPIRY_MS, `expires ${b.expires}`);
    // A genuine later change (version = a later wall clock) still replaces it.
    await links.get("n2")!.call("n1", "sip.replicate", { entries: [{ aor, version: now + MAX_CLOCK_SKEW_MS + 5000, bindings: [] }] });
    assert.equal(location.store.lookup(aor, Date.now()).length, 0, "the pinned version was clamped, so the newer state won");
  });

  it("ignores entries of AORs the sender does not hold; refuses (so the sender pushes again) those this node does not hold yet", async () => {
    const notSenders = aorHeldBy("n1", "n4");
    const notMine = aorHeldBy("n2", "n4");
    const entry = (aor: string) => ({ aor, version: Date.now(), bindings: [binding(aor, Date.now() + 60_000, 2)] });
    const refused = location.stats.replicationRefused;
    const deferred = location.stats.replicationDeferred;
    await links.get("n2")!.call("n1", "sip.replicate", { entries: [entry(notSenders)] });
    assert.equal(location.stats.replicationRefused, refused + 1);
    // n2 holds notMine, n1 does not in its view: the call fails, so n2 keeps the entry and retries.
    await assert.rejects(links.get("n2")!.call("n1", "sip.replicate", { entries: [entry(notMine)] }), /does not hold in its membership view yet/);
    assert.equal(location.stats.replicationDeferred, deferred + 1);
    assert.equal(location.store.lookup(notSenders, Date.now()).length, 0);
    assert.equal(location.store.lookup(notMine, Date.now()).length, 0);
  });

  it("refuses sip.register for an AOR this node does not hold", async () => {
    const aor = aorHeldBy("n2", "n4");
    const data = { callId: "c", cseq: 1, contacts: ["<sip:x@192.0.2.7>"], gruu: false, path: [], flow: { id: "udp:x", transport: "udp", source: { address: "192.0.2.7", port: 5060 } } };
    await assert.rejects(links.get("n2")!.call("n1", "sip.register", { aor, data }), /n1 does not hold/);
  });

  it("sip.flowFailed removes only the calling edge's bindings of that flow, and only from a sip_proxy member", async () => {
    const aor = aorHeldBy("n1", "n2", "tab");
    const now = Date.now();
    const ws = (edge: string, n: number) => ({ ...binding(aor, now + 60_000, n), uri: `sip:t${n}@x${n}.invalid;transport=ws`, contact: `<sip:t${n}@x${n}.invalid;transport=ws>`, flowId: "ws:1", transport: "ws", edge });
    await links.get("n2")!.call("n1", "sip.replicate", { entries: [{ aor, version: now, bindings: [ws("n2", 1), ws("n4", 2)] }] });
    assert.equal(location.store.lookup(aor, Date.now()).length, 2);
    await assert.rejects(links.get("n3")!.call("n1", "sip.flowFailed", { aor, flowId: "ws:1" }), /sip\.flowFailed is for live sip_proxy members/);
    // n2 says its connection ws:1 closed: n4's binding on a flow of the same name (another node's connection) stays.
    assert.deepEqual(await links.get("n2")!.call("n1", "sip.flowFailed", { aor, flowId: "ws:1" }), { removed: 1 });
    assert.deepEqual(location.store.lookup(aor, Date.now()).map((b) => b.edge), ["n4"]);
    assert.equal(location.stats.flowFailures, 1);
  });
});
