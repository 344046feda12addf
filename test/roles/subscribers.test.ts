import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { silentLogger, systemClock } from "../../src/base/index.js";
import { DatabaseCluster } from "../../src/db/index.js";
import { LocalHub } from "../../src/events/index.js";
import { DatabaseDirectory, type RoleContext } from "../../src/node/index.js";
import { RoleMap, type Entity } from "../../src/overlay/index.js";
import { ProvisioningService } from "../../src/provisioning/index.js";
import { SubscriberBinding } from "../../src/roles/index.js";
import { createTestDatabase, type TestDatabase } from "../support/databases.js";
import { waitFor } from "../support/wait-for.js";
import { testIp } from "../support/slot.js";

/**
 * A sip_proxy node's subscriber binding on an in-process bus: it loads its
 * slice once a database is announced and a ring exists, reloads when the
 * ring changes (taking over or handing over accounts), and refreshes an
 * account as soon as Thor.Provisioning names it.
 */
describe("subscriber binding of a sip_proxy node", () => {
  const hub = new LocalHub();
  const node = (id: string, ip: string): Entity => ({ id, ip, roles: ["sip_proxy"], version: "t", ports: {}, attrs: {}, startedAt: 1 });
  const self = node("n1", testIp(30, 41));
  const other = node("n2", testIp(30, 42));
  let map = RoleMap.fromMembers([self]);
  let tdb: TestDatabase;
  let cluster: DatabaseCluster;
  let service: ProvisioningService;
  let binding: SubscriberBinding;
  const prov = hub.attach({ OU: "node", CN: "prov" }, ["provisioning_server"]);
  const db = hub.attach({ OU: "database", CN: "db1" });

  const directory = new DatabaseDirectory(systemClock, silentLogger);

  before(async () => {
    tdb = await createTestDatabase("sqlite");
    cluster = new DatabaseCluster({ logger: silentLogger, migrate: true });
    cluster.setCandidates([{ uri: tdb.uri, priority: 0 }]);
    service = new ProvisioningService({ cluster, logger: silentLogger, publisher: { publish: (c) => prov.publish("Thor.Provisioning", { aors: c.aors, at: Date.now() }) } });
    await service.importAll("t", { domains: [{ name: "example.com" }], accounts: Array.from({ length: 200 }, (_, i) => ({ username: `s${i}`, domain: "example.com", password: "sub-secret" })) });
    const bus = hub.attach({ OU: "node", CN: "n1" }, ["sip_proxy"]);
    directory.start(bus);
    const ctx: RoleContext = { bus, logger: silentLogger, clock: systemClock, self: () => self, roleMap: () => map, snapshot: () => undefined, database: () => directory.current(), databases: directory, control: undefined, identity: undefined };
    binding = new SubscriberBinding({ pageSize: 50, holders: 1 });
    await binding.start(ctx);
  });

  after(async () => {
    await binding?.stop();
    await cluster?.close();
    await tdb?.drop();
  });

  it("loads every account while it is alone on the ring, once the database is announced", async () => {
    assert.equal(binding.cache.size, 0);
    db.publish("Thor.Database", { id: "db1", ip: testIp(30, 40), dburi: tdb.uri, priority: 10 });
    await waitFor(() => binding.cache.size === 200, { message: "200 accounts loaded" });
    assert.ok(binding.lookup("s1", "example.com"));
  });

  it("hands over the slice of a node that joins, and takes it back when it leaves", async () => {
    map = RoleMap.fromMembers([self, other]);
    binding.onMembership(map);
    const mine = Array.from({ length: 200 }, (_, i) => `s${i}@example.com`).filter((a) => map.ring("sip_proxy")!.lookup(a) === self.ip);
    await waitFor(() => binding.cache.size === mine.length, { message: `${mine.length} owned accounts` });
    assert.ok(mine.length > 40 && mine.length < 160, `a fair share: ${mine.length}`);
    for (const aor of mine.slice(0, 10)) assert.ok(binding.lookup(aor.split("@")[0]!, "example.com"));
    const theirs = Array.from({ length: 200 }, (_, i) => `s${i}`).find((u) => !mine.includes(`${u}@example.com`))!;
    assert.equal(binding.lookup(theirs, "example.com"), undefined);
    map = RoleMap.fromMembers([self]);
    binding.onMembership(map);
    await waitFor(() => binding.cache.size === 200, { message: "slice taken back" });
  });

  it("refreshes an account at once when Thor.Provisioning names it", async () => {
    const before = binding.lookup("s7", "example.com")!.ha1.MD5;
    await service.updateAccount("t", "s7@example.com", { password: "new-sub-secret", blocked: true });
    await waitFor(() => binding.lookup("s7", "example.com")?.blocked === true, { timeoutMs: 2000, message: "s7 blocked in the cache" });
    assert.notEqual(binding.lookup("s7", "example.com")!.ha1.MD5, before);
    await service.createAccount("t", { username: "newbie", domain: "example.com", password: "newbie-secret" });
    await waitFor(() => binding.lookup("newbie", "example.com"), { timeoutMs: 2000, message: "new account cached" });
    assert.ok((binding.statistics()["subscriberRefreshes"] ?? 0) >= 2);
  });
});
