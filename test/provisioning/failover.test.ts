import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { silentLogger } from "../../src/base/index.js";
import { DatabaseCluster } from "../../src/db/index.js";
import { ProvisioningApiError, ProvisioningClient, ProvisioningServer, ProvisioningService } from "../../src/provisioning/index.js";
import { createTestDatabase, type TestDatabase } from "../support/databases.js";
import { TcpProxy } from "../support/tcp-proxy.js";
import { waitFor } from "../support/wait-for.js";
import { testIp } from "../support/slot.js";

/**
 * Primary PostgreSQL reached through a TCP proxy on testIp(30, 10) that the
 * test cuts; the secondary (a replica stand-in holding the same data) is
 * another PostgreSQL database. While the primary is down, reads are served
 * by the secondary and writes get 503 THOR_PROVISIONING_READ_ONLY; a bulk
 * import cut in the middle leaves nothing behind.
 */
const WRITE = "writer-token-0123456789";

describe("primary database down", () => {
  let primary: TestDatabase;
  let secondary: TestDatabase;
  let proxy: TcpProxy;
  let cluster: DatabaseCluster;
  let server: ProvisioningServer;
  let api: ProvisioningClient;

  before(async () => {
    primary = await createTestDatabase("postgres", "thor_prov_primary");
    secondary = await createTestDatabase("postgres", "thor_prov_secondary");
    const pu = new URL(primary.uri);
    proxy = new TcpProxy(testIp(30, 10), { host: pu.hostname, port: Number(pu.port || 5432) });
    await proxy.start();
    pu.hostname = testIp(30, 10);
    pu.port = String(proxy.port);
    cluster = new DatabaseCluster({ logger: silentLogger, migrate: true, retryMs: 300, openOptions: { connectTimeoutMs: 1000 } });
    cluster.setCandidates([
      { uri: pu.toString(), priority: 10, id: "db1" },
      { uri: secondary.uri, priority: 20, id: "db2" },
    ]);
    server = new ProvisioningServer({ service: new ProvisioningService({ cluster, logger: silentLogger }), logger: silentLogger, host: testIp(30, 10), port: 0, tokens: [{ name: "admin", scope: "write", secret: WRITE }] });
    await server.start();
    // A request's own deadline well above the client's default: the imports of 400 accounts, on a machine running two suites, took over 10 s once.
    api = new ProvisioningClient({ url: server.url, token: WRITE, timeoutMs: 60_000 });
    // The same data on both, as replication would have it.
    const seed = { domains: [{ name: "example.com" }], accounts: [{ username: "alice", domain: "example.com", password: "alice-secret" }] };
    await api.importAll(seed);
    const replica = new DatabaseCluster({ logger: silentLogger, migrate: true });
    replica.setCandidates([{ uri: secondary.uri, priority: 0 }]);
    await new ProvisioningService({ cluster: replica, logger: silentLogger }).importAll("replication", seed);
    await replica.close();
  });

  after(async () => {
    api?.close();
    await server?.stop();
    await cluster?.close();
    await proxy?.stop();
    await primary?.drop();
    await secondary?.drop();
  });

  async function refusedWith(p: Promise<unknown>, status: number, code: string): Promise<ProvisioningApiError> {
    const err = await p.then(
      () => assert.fail("expected a refusal"),
      (e: unknown) => e,
    );
    assert.ok(err instanceof ProvisioningApiError, String(err));
    assert.equal(err.status, status, err.message);
    assert.equal(err.code, code, err.message);
    return err;
  }

  it("reads from the secondary and refuses writes clearly while the primary is down", async () => {
    assert.equal((await api.getAccount("alice@example.com")).username, "alice");
    assert.equal(cluster.state().lastRead, "primary");
    proxy.down();
    const a = await api.getAccount("alice@example.com");
    assert.equal(a.username, "alice");
    assert.equal(cluster.state().lastRead, "secondary");
    assert.equal((await api.listAccounts()).total, 1);
    const err = await refusedWith(api.createAccount({ username: "bob", domain: "example.com", password: "bob-secret" }), 503, "THOR_PROVISIONING_READ_ONLY");
    assert.match(err.message, /primary database .* unreachable/);
    await refusedWith(api.updateAccount("alice@example.com", { blocked: true }), 503, "THOR_PROVISIONING_READ_ONLY");
    const raw = await api.raw("DELETE", "/v1/accounts/alice@example.com", undefined, { authorization: `Bearer ${WRITE}` });
    assert.equal(raw.status, 503);
    assert.equal(raw.headers["retry-after"], "2");
    const health = await api.health();
    assert.equal((health.database as { primaryUp: boolean }).primaryUp, false);

    proxy.up();
    await waitFor(() => api.createAccount({ username: "carol", domain: "example.com", password: "carol-secret" }).then(() => true), { timeoutMs: 10_000, intervalMs: 100, message: "writes accepted again" });
    await waitFor(async () => (await api.listAccounts()).total === 2 && cluster.state().lastRead === "primary", { timeoutMs: 5000, message: "reads from the primary again" });
    const names = (await api.listAccounts()).items.map((x) => x.username);
    assert.deepEqual(names, ["alice", "carol"], "nothing of the refused writes reached the primary");
    assert.equal((await api.getAccount("alice@example.com")).blocked, false);
  });

  it("a bulk import cut in the middle of its transaction leaves nothing half-written", async () => {
    const accounts = Array.from({ length: 400 }, (_, i) => ({ username: `cut${i}`, domain: "cut.test", password: "cut-secret" }));
    proxy.cutAfter(40_000);
    await refusedWith(api.importAll({ domains: [{ name: "cut.test" }], accounts }), 503, "THOR_PROVISIONING_READ_ONLY");
    proxy.up();
    await waitFor(() => api.createDomain({ name: "after.test" }).then(() => true), { timeoutMs: 10_000, intervalMs: 100, message: "primary back" });
    await waitFor(() => cluster.state().lastRead === "primary" || api.listDomains().then(() => cluster.state().lastRead === "primary"), { timeoutMs: 5000 });
    assert.equal((await api.listAccounts({ q: "cut" })).total, 0);
    await refusedWith(api.getDomain("cut.test"), 404, "THOR_PROVISIONING_NOT_FOUND");
    // And the same import succeeds now, whole.
    assert.deepEqual(await api.importAll({ domains: [{ name: "cut.test" }], accounts }), { domains: 1, accounts: 400, aliases: 0 });
  });
});
