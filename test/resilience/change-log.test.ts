import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { silentLogger, systemClock } from "../../src/base/index.js";
import { DatabaseCluster } from "../../src/db/index.js";
import { LocalHub } from "../../src/events/index.js";
import { DatabaseDirectory, type RoleContext } from "../../src/node/index.js";
import { RoleMap, type Entity } from "../../src/overlay/index.js";
import { ProvisioningServer, ProvisioningService } from "../../src/provisioning/index.js";
import { SubscriberBinding } from "../../src/roles/index.js";
import { createTestDatabase, type TestDatabase } from "../support/databases.js";
import { waitFor } from "../support/wait-for.js";
import { testIp } from "../support/slot.js";

/**
 * Issue 15 item 3: provisioning while the event bus is down. The API
 * commits the change and says it is not yet confirmed (Thor-Change-Applied:
 * pending); the nodes read it from the change log in the database within
 * seconds, so a blocked account stops registering; with the bus up a change
 * is applied once (the log does not apply it again). SQLite and PostgreSQL.
 */
for (const kind of ["sqlite", "postgres"] as const) {
  describe(`change log (${kind})`, () => {
    const hub = new LocalHub();
    const self: Entity = { id: "n1", ip: testIp(190, 41), roles: ["sip_proxy"], version: "t", ports: {}, attrs: {}, startedAt: 1 };
    const map = RoleMap.fromMembers([self]);
    let busUp = true;
    let tdb: TestDatabase;
    let cluster: DatabaseCluster;
    let service: ProvisioningService;
    let server: ProvisioningServer;
    let binding: SubscriberBinding;
    let url = "";
    const TOKEN = "write-token-change-log-0123456789";
    const prov = hub.attach({ OU: "node", CN: "prov" }, ["provisioning_server"]);
    const db = hub.attach({ OU: "database", CN: "db1" });
    const directory = new DatabaseDirectory(systemClock, silentLogger);

    before(async () => {
      tdb = await createTestDatabase(kind);
      cluster = new DatabaseCluster({ logger: silentLogger, migrate: true });
      cluster.setCandidates([{ uri: tdb.uri, priority: 0 }]);
      // The bus "down": nothing is delivered and the publisher says so, as the event client does.
      service = new ProvisioningService({ cluster, logger: silentLogger, publisher: { publish: (c) => busUp && prov.publish("Thor.Provisioning", { aors: c.aors, at: Date.now(), seq: c.seq }) } });
      await service.importAll("t", { domains: [{ name: "example.com" }], accounts: Array.from({ length: 20 }, (_, i) => ({ username: `u${i}`, domain: "example.com", password: "secret-u" })) });
      server = new ProvisioningServer({ service, logger: silentLogger, host: testIp(190, 40), port: 0, tokens: [{ name: "admin", scope: "write", secret: TOKEN }] });
      url = (await server.start()).url;
      const bus = hub.attach({ OU: "node", CN: "n1" }, ["sip_proxy"]);
      directory.start(bus);
      const ctx: RoleContext = { bus, logger: silentLogger, clock: systemClock, self: () => self, roleMap: () => map, snapshot: () => undefined, database: () => directory.current(), databases: directory, control: undefined, identity: undefined };
      binding = new SubscriberBinding({ holders: 1, changePollMs: 250 });
      await binding.start(ctx);
      db.publish("Thor.Database", { id: "db1", ip: testIp(190, 40), dburi: tdb.uri, priority: 10 });
      await waitFor(() => binding.cache.size === 20, { message: "20 accounts loaded" });
    });

    after(async () => {
      await binding?.stop();
      await server?.stop();
      await cluster?.close();
      await tdb?.drop();
    });

    const patch = (aor: string, body: unknown) => fetch(`${url}/v1/accounts/${encodeURIComponent(aor)}`, { method: "PATCH", headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" }, body: JSON.stringify(body) });

    it("with the bus up: notified, applied at once, and not applied again from the log", async () => {
      busUp = true;
      const res = await patch("u1@example.com", { blocked: true });
      assert.equal(res.status, 200, await res.text());
      assert.equal(res.headers.get("thor-change-applied"), "notified");
      assert.match(res.headers.get("thor-change") ?? "", /^\d+$/);
      await waitFor(() => binding.lookup("u1", "example.com")?.blocked === true, { timeoutMs: 2000, message: "u1 blocked" });
      const polls = () => binding.statistics()["changesFromLog"];
      const before = polls();
      // Several poll intervals pass: the log holds the change, but it was applied already.
      await new Promise((r) => setTimeout(r, 1000));
      assert.equal(polls(), before, "a change told on the bus is not applied a second time");
    });

    it("with the bus down: the answer says pending, and the node applies the change from the log within seconds", async () => {
      busUp = false;
      const res = await patch("u2@example.com", { blocked: true });
      assert.equal(res.status, 200, await res.text());
      assert.equal(res.headers.get("thor-change-applied"), "pending", "committed but not confirmed: the answer says so");
      await waitFor(() => binding.lookup("u2", "example.com")?.blocked === true, { timeoutMs: 5000, message: "u2 blocked through the change log" });
      assert.ok((binding.statistics()["changesFromLog"] ?? 0) >= 1);
      // A new account, too, without the bus.
      const created = await fetch(`${url}/v1/accounts`, { method: "POST", headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" }, body: JSON.stringify({ username: "late", domain: "example.com", password: "secret-late" }) });
      assert.equal(created.status, 201);
      assert.equal(created.headers.get("thor-change-applied"), "pending");
      await waitFor(() => binding.lookup("late", "example.com"), { timeoutMs: 5000, message: "new account through the change log" });
    });
  });
}
