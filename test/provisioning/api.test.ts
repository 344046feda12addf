import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { silentLogger } from "../../src/base/index.js";
import { DatabaseCluster, getAccount } from "../../src/db/index.js";
import { ProvisioningApiError, ProvisioningClient, ProvisioningServer, ProvisioningService, ha1Of, type ChangeNotice } from "../../src/provisioning/index.js";
import { createTestDatabase, type TestDatabase } from "../support/databases.js";
import { testIp } from "../support/slot.js";

/**
 * The whole API over real HTTP on testIp(30, 1), the same suite against
 * SQLite and against the PostgreSQL server of this machine.
 */
const WRITE = "writer-token-0123456789";
const READ = "reader-token-0123456789";

for (const kind of ["sqlite", "postgres"] as const) {
  describe(`provisioning API on ${kind}`, () => {
    let tdb: TestDatabase;
    let cluster: DatabaseCluster;
    let server: ProvisioningServer;
    let api: ProvisioningClient;
    let reader: ProvisioningClient;
    const changes: Array<ChangeNotice & { seq?: number }> = [];

    before(async () => {
      tdb = await createTestDatabase(kind);
      cluster = new DatabaseCluster({ logger: silentLogger, migrate: true });
      cluster.setCandidates([{ uri: tdb.uri, priority: 10 }]);
      await cluster.migrate();
      const service = new ProvisioningService({ cluster, logger: silentLogger, publisher: { publish: (c) => void changes.push(c) } });
      server = new ProvisioningServer({ service, logger: silentLogger, host: testIp(30, 1), port: 0, tokens: [{ name: "admin", scope: "write", secret: WRITE }, { name: "viewer", scope: "read", secret: READ }] });
      const { url } = await server.start();
      api = new ProvisioningClient({ url, token: WRITE });
      reader = new ProvisioningClient({ url, token: READ });
    });

    after(async () => {
      api?.close();
      reader?.close();
      await server?.stop();
      await cluster?.close();
      await tdb?.drop();
    });

    async function refused(p: Promise<unknown>, status: number, code: string): Promise<ProvisioningApiError> {
      try {
        await p;
      } catch (err) {
        assert.ok(err instanceof ProvisioningApiError, String(err));
        assert.equal(err.status, status, err.message);
        assert.equal(err.code, code, err.message);
        return err;
      }
      assert.fail(`expected ${status} ${code}`);
    }

    it("creates, reads, changes and deletes domains", async () => {
      const d = await api.createDomain({ name: "Example.COM", description: "main" });
      assert.equal(d.name, "example.com");
      await api.createDomain({ name: "other.test" });
      assert.deepEqual((await api.getDomain("example.com")).description, "main");
      const upd = await api.updateDomain("other.test", { enabled: false });
      assert.equal(upd.enabled, false);
      const list = await api.listDomains();
      assert.deepEqual(list.items.map((x) => x.name), ["example.com", "other.test"]);
      await api.createDomain({ name: "gone.test" });
      await api.deleteDomain("gone.test");
      await refused(api.getDomain("gone.test"), 404, "THOR_PROVISIONING_NOT_FOUND");
      assert.ok(changes.some((c) => c.domains?.includes("gone.test")));
    });

    const storedHa1 = async (username: string) => (await cluster.read((db) => getAccount(db, username, "example.com")))?.ha1;

    it("creates an account storing HA1 (MD5 and SHA-256) and never the password; the answer carries neither", async () => {
      changes.length = 0;
      const a = await api.createAccount({ username: "alice", domain: "example.com", password: "alice-secret", displayName: "Alice", groups: ["staff"], properties: { lang: "en" } });
      assert.deepEqual(await storedHa1("alice"), ha1Of("alice", "example.com", "alice-secret"));
      assert.ok(!("ha1" in a), "HA1 is password-equivalent: the API never shows it");
      assert.ok(!JSON.stringify(a).includes("alice-secret"));
      const got = await reader.getAccount("alice@example.com");
      assert.equal(got.displayName, "Alice");
      assert.deepEqual(got.groups, ["staff"]);
      assert.deepEqual(got.properties, { lang: "en" });
      assert.equal(got.enabled, true);
      assert.equal(got.blocked, false);
      assert.equal(got.features.dnd, false);
      assert.deepEqual(changes.map(({ seq: _seq, ...c }) => c), [{ aors: ["alice@example.com"] }]);
      assert.ok((changes[0]?.seq ?? 0) > 0, "the notice carries the change's number in the change log");
      const audit = await api.audit({ entity: "account", key: "alice@example.com" });
      assert.equal(audit.items[0]?.action, "create");
      assert.equal(audit.items[0]?.actor, "admin");
      assert.ok(!JSON.stringify(audit).includes("alice-secret"));
    });

    it("changes password, state and call features; the audit trail records each change", async () => {
      const before = await storedHa1("alice");
      const a = await api.updateAccount("alice@example.com", {
        password: "new-secret-1",
        blocked: true,
        features: { forwardBusy: "sip:voicemail@example.com", forwardNoAnswer: "tel:+4930123456", forwardNoAnswerTimeout: 20, dnd: true, blockIncoming: ["+1900*", "spam@evil.test"] },
      });
      assert.notEqual((await storedHa1("alice"))?.md5, before?.md5);
      assert.deepEqual(await storedHa1("alice"), ha1Of("alice", "example.com", "new-secret-1"));
      assert.equal(a.blocked, true);
      assert.equal(a.features.forwardBusy, "sip:voicemail@example.com");
      assert.equal(a.features.forwardNoAnswerTimeout, 20);
      assert.deepEqual(a.features.blockIncoming, ["+1900*", "spam@evil.test"]);
      const b = await api.updateAccount("alice@example.com", { features: { dnd: false } });
      assert.equal(b.features.dnd, false);
      assert.equal(b.features.forwardBusy, "sip:voicemail@example.com", "features not named keep their value");
      const audit = await api.audit({ entity: "account", key: "alice@example.com" });
      assert.deepEqual(audit.items.map((x) => x.action), ["update", "update", "create"]);
      assert.deepEqual((audit.items[1]?.detail as { password?: string }).password, "(changed)");
      await api.updateAccount("alice@example.com", { blocked: false });
    });

    it("lists accounts with paging and filters", async () => {
      for (let i = 0; i < 12; i++) await api.createAccount({ username: `user${String(i).padStart(2, "0")}`, domain: i % 2 ? "example.com" : "other.test", password: "secret-pw", blocked: i === 3, groups: i < 4 ? ["trial"] : [] });
      const p1 = await api.listAccounts({ domain: "example.com", limit: 4 });
      assert.equal(p1.total, 7);
      assert.deepEqual(p1.items.map((x) => x.username), ["alice", "user01", "user03", "user05"]);
      const p2 = await api.listAccounts({ domain: "example.com", limit: 4, offset: 4 });
      assert.deepEqual(p2.items.map((x) => x.username), ["user07", "user09", "user11"]);
      assert.deepEqual((await api.listAccounts({ blocked: true })).items.map((x) => x.username), ["user03"]);
      assert.equal((await api.listAccounts({ group: "trial" })).total, 4);
      assert.deepEqual((await api.listAccounts({ q: "USER1" })).items.map((x) => `${x.username}@${x.domain}`), ["user11@example.com", "user10@other.test"]);
    });

    it("maps aliases and DIDs to accounts and deletes them with the account", async () => {
      const al = await api.createAlias({ alias: "a.smith@example.com", account: "alice@example.com" });
      assert.deepEqual([al.kind, al.alias, al.account], ["alias", "a.smith@example.com", "alice@example.com"]);
      const did = await api.createAlias({ kind: "did", alias: "+493012345678", account: "alice@example.com" });
      assert.equal(did.alias, "+493012345678@example.com");
      assert.equal((await api.getAlias("a.smith@example.com")).account, "alice@example.com");
      assert.equal((await api.listAliases({ account: "alice@example.com" })).total, 2);
      assert.equal((await api.listAliases({ kind: "did" })).total, 1);
      await refused(api.createAlias({ alias: "a.smith@example.com", account: "user01@example.com" }), 409, "THOR_PROVISIONING_CONFLICT");
      await refused(api.createAlias({ alias: "user01@example.com", account: "alice@example.com" }), 409, "THOR_PROVISIONING_CONFLICT");
      await refused(api.createAlias({ kind: "did", alias: "12345", account: "alice@example.com" }), 422, "THOR_PROVISIONING_VALIDATION");
      await refused(api.createAlias({ alias: "x@example.com", account: "nobody@example.com" }), 422, "THOR_PROVISIONING_REFERENCE");
      await api.deleteAlias("a.smith@example.com");
      await refused(api.getAlias("a.smith@example.com"), 404, "THOR_PROVISIONING_NOT_FOUND");
      await api.createAccount({ username: "tmp", domain: "example.com", password: "secret-pw" });
      await api.createAlias({ alias: "tmp2@example.com", account: "tmp@example.com" });
      await api.deleteAccount("tmp@example.com");
      await refused(api.getAccount("tmp@example.com"), 404, "THOR_PROVISIONING_NOT_FOUND");
      await refused(api.getAlias("tmp2@example.com"), 404, "THOR_PROVISIONING_NOT_FOUND");
    });

    it("keeps trusted peers (IP or CIDR)", async () => {
      const p = await api.createTrustedPeer({ cidr: "192.0.2.0/24", description: "gateway" });
      await api.createTrustedPeer({ cidr: "2001:db8::1" });
      assert.equal((await api.listTrustedPeers()).total, 2);
      await refused(api.createTrustedPeer({ cidr: "192.0.2.0/24" }), 409, "THOR_PROVISIONING_CONFLICT");
      await refused(api.createTrustedPeer({ cidr: "192.0.2.0/33" }), 422, "THOR_PROVISIONING_VALIDATION");
      await api.deleteTrustedPeer(p.id);
      assert.equal((await api.listTrustedPeers()).total, 1);
    });

    it("refuses to delete a domain that still has accounts", async () => {
      await refused(api.deleteDomain("example.com"), 409, "THOR_PROVISIONING_CONFLICT");
    });

    it("imports in bulk in one transaction, and nothing at all when one item fails", async () => {
      const accounts = Array.from({ length: 300 }, (_, i) => ({ username: `bulk${i}`, domain: "bulk.test", password: "bulk-secret" }));
      const r = await api.importAll({ domains: [{ name: "bulk.test" }], accounts, aliases: [{ kind: "did", alias: "+15551230000", account: "bulk7@bulk.test" }] });
      assert.deepEqual(r, { domains: 1, accounts: 300, aliases: 1 });
      assert.equal((await api.listAccounts({ domain: "bulk.test", limit: 1 })).total, 300);
      const bad = Array.from({ length: 50 }, (_, i) => ({ username: `more${i}`, domain: "bulk2.test", password: "bulk-secret" }));
      bad.push({ username: "bulk5", domain: "bulk.test", password: "bulk-secret" });
      const err = await refused(api.importAll({ domains: [{ name: "bulk2.test" }], accounts: bad }), 409, "THOR_PROVISIONING_CONFLICT");
      assert.match(err.message, /accounts\.50: account bulk5@bulk\.test exists already/);
      await refused(api.getDomain("bulk2.test"), 404, "THOR_PROVISIONING_NOT_FOUND");
      assert.equal((await api.listAccounts({ q: "more" })).total, 0);
    });

    it("serves its OpenAPI document and health without a token", async () => {
      const anon = new ProvisioningClient({ url: server.url });
      try {
        const doc = (await anon.request("GET", "/openapi.json")) as { openapi: string; paths: Record<string, Record<string, { requestBody?: { content: Record<string, { schema: { additionalProperties?: boolean; required?: string[] } }> } }>> };
        assert.equal(doc.openapi, "3.1.0");
        const post = doc.paths["/v1/accounts"]?.["post"];
        const schema = post?.requestBody?.content["application/json"]?.schema;
        assert.equal(schema?.additionalProperties, false);
        assert.deepEqual(schema?.required, ["username", "domain", "password"]);
        for (const p of ["/v1/domains", "/v1/aliases", "/v1/trusted-peers", "/v1/import", "/v1/audit", "/v1/network/status", "/v1/network/statistics"]) assert.ok(doc.paths[p], p);
        const h = await anon.health();
        assert.equal(h.ok, true);
      } finally {
        anon.close();
      }
    });
  });
}
