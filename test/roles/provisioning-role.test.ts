import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { silentLogger, systemClock } from "../../src/base/index.js";
import { LocalHub, type ProvisioningChange } from "../../src/events/index.js";
import { DatabaseDirectory, type RoleContext } from "../../src/node/index.js";
import { MembershipFeed, RoleMap, type Entity } from "../../src/overlay/index.js";
import { ProvisioningClient } from "../../src/provisioning/index.js";
import { getDomain, openDatabase } from "../../src/db/index.js";
import { ProvisioningServerRole } from "../../src/roles/index.js";
import { createTestDatabase, type TestDatabase } from "../support/databases.js";
import { waitFor } from "../support/wait-for.js";
import { publishTable } from "../support/membership.js";
import { testIp } from "../support/slot.js";

/**
 * The provisioning_server role on an in-process bus: it uses the announced
 * databases (primary and secondary), publishes Thor.Provisioning after a
 * commit, and serves the membership and statistics it hears.
 */
describe("provisioning_server role", () => {
  const hub = new LocalHub();
  const self: Entity = { id: "prov1", ip: testIp(30, 30), roles: ["provisioning_server"], version: "t", ports: {}, attrs: {}, startedAt: 1 };
  let primary: TestDatabase;
  let secondary: TestDatabase;
  let role: ProvisioningServerRole;
  let api: ProvisioningClient;
  const changes: ProvisioningChange[] = [];
  const observer = hub.attach({ OU: "node", CN: "node9" }, ["sip_proxy"]);
  const manager = hub.attach({ OU: "manager", CN: "mgr1" });
  const database = hub.attach({ OU: "database", CN: "db1" });

  const directory = new DatabaseDirectory(systemClock, silentLogger);
  const feed = new MembershipFeed();

  before(async () => {
    primary = await createTestDatabase("sqlite");
    secondary = await createTestDatabase("sqlite");
    observer.subscribe("Thor.Provisioning", (c) => changes.push(c));
    const bus = hub.attach({ OU: "node", CN: "prov1" }, ["provisioning_server"]);
    // The node's one directory and membership feed, as NodeRuntime hands them to its roles.
    directory.start(bus);
    feed.follow(bus);
    const ctx: RoleContext = {
      bus,
      logger: silentLogger,
      clock: systemClock,
      self: () => self,
      roleMap: () => RoleMap.fromMembers([self]),
      snapshot: () => feed.current,
      database: () => directory.current(),
      databases: directory,
      control: undefined,
      identity: undefined,
    };
    role = new ProvisioningServerRole({ host: self.ip, port: 0, tokens: [{ name: "ops", scope: "write", secret: "role-test-token-0123" }] });
    await role.start(ctx);
    api = new ProvisioningClient({ url: role.url!, token: "role-test-token-0123" });
  });

  after(async () => {
    api?.close();
    await role?.stop();
    await primary?.drop();
    await secondary?.drop();
  });

  it("refuses writes until a database is announced, then uses the best one", async () => {
    await assert.rejects(api.createDomain({ name: "example.com" }), /THOR_DB_NOT_CONFIGURED|no database/);
    database.publish("Thor.Database", { id: "db2", ip: testIp(30, 32), dburi: secondary.uri, priority: 20 });
    database.publish("Thor.Database", { id: "db1", ip: testIp(30, 31), dburi: primary.uri, priority: 10 });
    await waitFor(async () => {
      const h = await api.health();
      const d = h.database as { configured: boolean; secondaries: number };
      return d.configured && d.secondaries === 1;
    }, { message: "primary and secondary chosen" });
    // The write went to the best (lowest priority) database: health shows no URI, so look there.
    await api.createDomain({ name: "probe.test" });
    const db = openDatabase(primary.uri);
    try {
      assert.ok(await getDomain(db.db, "probe.test"), "the domain is in the primary database");
    } finally {
      await db.close();
    }
    await api.deleteDomain("probe.test");
    assert.ok(role.advertise().ports?.["provisioning"]);
  });

  it("publishes Thor.Provisioning naming the changed AORs after each commit", async () => {
    await waitFor(() => api.createDomain({ name: "example.com" }).then(() => true), { message: "domain created" });
    await api.createAccount({ username: "alice", domain: "example.com", password: "alice-secret" });
    await api.updateAccount("alice@example.com", { blocked: true });
    await waitFor(() => changes.filter((c) => c.aors.includes("alice@example.com")).length === 2, { message: "two notices for alice" });
    assert.ok(changes.some((c) => c.domains?.includes("example.com")));
    const failed = api.createAccount({ username: "alice", domain: "example.com", password: "alice-secret" });
    await assert.rejects(failed, /exists already/);
    // A later change's notice comes after any notice of the refused one (one publisher, in order).
    await api.createAccount({ username: "bob", domain: "example.com", password: "bob-secret" });
    await waitFor(() => changes.some((c) => c.aors.includes("bob@example.com")), { message: "the notice of the later change (bob)" });
    assert.equal(changes.filter((c) => c.aors.includes("alice@example.com")).length, 2, "no notice for a refused change");
  });

  it("serves the live membership and aggregated statistics", async () => {
    await assert.rejects(api.networkStatus(), /no membership snapshot/);
    const members: Entity[] = [self, { ...self, id: "node9", ip: testIp(30, 39), roles: ["sip_proxy"] }];
    publishTable(manager, { epoch: 1, seq: 1, manager: "mgr1", at: Date.now(), members });
    publishTable(observer, { epoch: 9, seq: 9, manager: "fake", at: Date.now(), members: [] });
    await waitFor(async () => ((await api.networkStatus().catch(() => undefined)) as { members?: unknown[] } | undefined)?.members?.length === 2, { message: "snapshot served" });
    observer.publish("Thor.Statistics", { id: "node9", ip: testIp(30, 39), at: Date.now(), roles: { sip_proxy: { subscribers: 5, registers: 3 } } });
    observer.publish("Thor.Statistics", { id: "node8", ip: testIp(30, 38), at: Date.now(), roles: { sip_proxy: { subscribers: 7 } } });
    const s = await waitFor(async () => {
      const st = (await api.networkStatistics()) as { members: number; roles: Record<string, { members: number; counters: Record<string, number> }> };
      return st.members === 2 ? st : undefined;
    }, { message: "statistics aggregated" });
    assert.deepEqual(s.roles["sip_proxy"], { members: 2, counters: { subscribers: 12, registers: 3 } });
    assert.equal(((await api.networkStatus()) as { manager: string }).manager, "mgr1", "a snapshot not published by a manager is ignored");
  });
});
