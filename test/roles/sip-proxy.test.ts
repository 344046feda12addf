import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { KeyRing, silentLogger, systemClock } from "../../src/base/index.js";
import { LocalHub } from "../../src/events/index.js";
import { DatabaseDirectory, type RoleContext } from "../../src/node/index.js";
import { RoleMap, type Entity } from "../../src/overlay/index.js";
import { SipProxyRole } from "../../src/roles/index.js";
import { MemoryCredentialStore } from "../../src/sip/index.js";
import { registerUdp } from "../security/support.js";
import { ControlMesh } from "../support/control-mesh.js";
import { testIp } from "../support/slot.js";

/**
 * The sip_proxy role (src/roles/sip-proxy.ts) of three nodes in this
 * process, on real control links (test/support/control-mesh.ts) and real
 * SIP sockets, testNet(35): an account is known only to its two holders;
 * another node authenticates its caller by asking them (`sip.credentials`),
 * which answer only live sip_proxy members and only for accounts they hold;
 * when no holder answers, the caller gets 503 with Retry-After, never a
 * challenge. A fourth mesh member (n4) is not in the membership.
 */
const DOMAIN = "example.test";
const NODES = ["n1", "n2", "n3"] as const;
type Id = (typeof NODES)[number];
const PHONE = testIp(35, 200);

describe("sip_proxy role on in-process control links", { timeout: 60_000 }, () => {
  let mesh: ControlMesh;
  let map: RoleMap;
  const roles = new Map<Id, SipProxyRole>();
  const entities = new Map<Id, Entity>();
  const keys = new KeyRing([{ id: "k1", key: randomBytes(32) }]);
  const hub = new LocalHub();
  /** The account of the test, held by n1 (responsible) and n3; n2 holds no copy. */
  let user = "";

  const udpPort = (id: Id) => entities.get(id)!.ports["sip_udp"]!;

  before(async () => {
    mesh = await ControlMesh.create([...NODES, "n4"], 35);
    // The ring depends only on the addresses: pick the account from it before starting.
    const ring = RoleMap.fromMembers(NODES.map((id) => mesh.entity(id, ["sip_proxy"])));
    user = Array.from({ length: 1000 }, (_, i) => `u${i}`).find((u) => ring.successors("sip_proxy", `${u}@${DOMAIN}`, 2).map((e) => e.id).join() === "n1,n3")!;
    assert.ok(user, "an account held by n1 and n3");
    for (const id of NODES) {
      const credentials = new MemoryCredentialStore(DOMAIN);
      if (id !== "n2") credentials.set(user, { password: `${user}-secret` });
      const ip = mesh.ip(id);
      const role = new SipProxyRole({ listen: [{ transport: "udp", host: ip, port: 0 }], internal: { host: ip, port: 0 }, domains: [DOMAIN], credentials, keys, algorithms: ["MD5"], presence: false, replicas: 2 });
      const directory = new DatabaseDirectory(systemClock, silentLogger);
      const ctx: RoleContext = {
        bus: hub.attach({ OU: "node", CN: id }, ["sip_proxy"]),
        logger: silentLogger,
        clock: systemClock,
        self: () => entities.get(id) ?? mesh.entity(id, ["sip_proxy"]),
        roleMap: () => map,
        snapshot: () => undefined,
        database: () => undefined,
        databases: directory,
        control: mesh.link(id),
        identity: mesh.identity(id),
      };
      await role.start(ctx);
      roles.set(id, role);
      const base = mesh.entity(id, ["sip_proxy"]);
      entities.set(id, { ...base, ports: { ...base.ports, ...role.advertise().ports } });
    }
    map = RoleMap.fromMembers([...entities.values()]);
    const snapshot = { epoch: 1, seq: 1, manager: "mgr1", at: Date.now(), members: [...entities.values()] };
    for (const role of roles.values()) role.onMembership({ snapshot, previous: undefined, map, changes: [] });
  });

  after(async () => {
    for (const role of roles.values()) await role.stop();
    await mesh?.stop();
  });

  const register = (via: Id, password: string, n: number) =>
    registerUdp({ ip: PHONE, to: { host: mesh.ip(via), port: udpPort(via) }, user, password, domain: DOMAIN, contacts: [`<sip:${user}@${PHONE}:${5060 + n}>`] });

  it("a node that does not know the account authenticates its caller with a holder's credentials", async () => {
    const answer = await register("n2", `${user}-secret`, 1);
    assert.match(answer, /^SIP\/2\.0 200 OK\r\n/);
    assert.match(answer, new RegExp(`^Contact: <sip:${user}@[^>]+>;expires=\\d+`, "m"));
  });

  it("checks the password against the holder's credentials: a wrong one is refused", async () => {
    const answer = await register("n2", "not-the-password", 2);
    assert.doesNotMatch(answer, /^SIP\/2\.0 200/);
    assert.match(answer, /^SIP\/2\.0 (401|403) /);
  });

  it("answers sip.credentials only to live sip_proxy members, and only for accounts it holds", async () => {
    const asked = { username: user, realm: DOMAIN };
    const got = (await mesh.link("n2").call("n1", "sip.credentials", asked)) as { password?: string };
    assert.equal(got.password, `${user}-secret`);
    // An account that does not exist, asked of a node that would hold it: null (the caller answers 403), not an error.
    const unknown = Array.from({ length: 1000 }, (_, i) => `nobody${i}`).find((u) => heldBy("n3", u))!;
    assert.equal(await mesh.link("n1").call("n3", "sip.credentials", { username: unknown, realm: DOMAIN }), null);
    await assert.rejects(mesh.link("n1").call("n2", "sip.credentials", asked), /n2 does not hold/);
    await assert.rejects(mesh.link("n4").call("n1", "sip.credentials", asked), /sip\.credentials is for live sip_proxy members; n4 is not one/);
  });

  it("when no holder of the account answers, the caller gets 503 with Retry-After, not a challenge", async () => {
    await mesh.kill("n1");
    await mesh.kill("n3");
    const answer = await register("n2", `${user}-secret`, 3);
    assert.match(answer, /^SIP\/2\.0 503 Service Unavailable \(account holders unreachable\)\r\n/);
    assert.match(answer, /^Retry-After: \d+/m);
    assert.doesNotMatch(answer, /^WWW-Authenticate:/m);
  });

  /** Whether `id` holds `username`'s account on the current ring. */
  function heldBy(id: Id, username: string): boolean {
    return map.successors("sip_proxy", `${username}@${DOMAIN}`, 2).some((e) => e.id === id);
  }
});
