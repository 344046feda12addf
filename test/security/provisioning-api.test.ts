/**
 * Issue 10, item 15: the provisioning API hands out no HA1 and no database
 * URI, refuses plain HTTP off loopback unless allowed, and throttles token
 * guessing per source (429 + Retry-After).
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { request } from "node:http";
import { silentLogger } from "../../src/base/index.js";
import { DatabaseCluster } from "../../src/db/index.js";
import { ProvisioningClient, ProvisioningServer, ProvisioningService, ha1Of } from "../../src/provisioning/index.js";
import { createTestDatabase, type TestDatabase } from "../support/databases.js";
import { testIp } from "../support/slot.js";

const HOST = testIp(120, 15);
const WRITE = "sec-writer-token-0123456789";
const READ = "sec-reader-token-0123456789";

function get(url: string, path: string, token?: string, localAddress = testIp(120, 16)): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(`${url}${path}`, { localAddress, headers: token ? { authorization: `Bearer ${token}` } : {} }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (c: string) => (body += c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on("error", reject);
    req.end();
  });
}

describe("provisioning API security", () => {
  let tdb: TestDatabase;
  let cluster: DatabaseCluster;
  let server: ProvisioningServer;
  let url = "";

  before(async () => {
    tdb = await createTestDatabase("sqlite");
    cluster = new DatabaseCluster({ logger: silentLogger, migrate: true });
    cluster.setCandidates([{ uri: tdb.uri, priority: 10 }]);
    await cluster.migrate();
    server = new ProvisioningServer({
      service: new ProvisioningService({ cluster, logger: silentLogger }),
      logger: silentLogger,
      host: HOST,
      port: 0,
      tokens: [{ name: "admin", scope: "write", secret: WRITE }, { name: "viewer", scope: "read", secret: READ }],
      throttle: { failures: 5, windowMs: 30_000 },
    });
    url = (await server.start()).url;
    const api = new ProvisioningClient({ url, token: WRITE });
    try {
      await api.createDomain({ name: "example.com" });
      await api.createAccount({ username: "alice", domain: "example.com", password: "alice-secret" });
    } finally {
      api.close();
    }
  });

  after(async () => {
    await server?.stop();
    await cluster?.close();
    await tdb?.drop();
  });

  it("a read token lists and reads accounts without HA1 (HA1 is password-equivalent)", async () => {
    const ha1 = ha1Of("alice", "example.com", "alice-secret");
    for (const path of ["/v1/accounts", "/v1/accounts/alice@example.com"]) {
      const r = await get(url, path, READ);
      assert.equal(r.status, 200, r.body);
      assert.ok(r.body.includes("alice"), r.body);
      assert.ok(!r.body.includes("ha1"), `${path}: ${r.body}`);
      assert.ok(!r.body.includes(ha1.md5) && !r.body.includes(ha1.sha256), `${path} carries an HA1 value`);
    }
  });

  it("/v1/health shows the state of the database but no URI", async () => {
    const r = await get(url, "/v1/health");
    assert.equal(r.status, 200);
    const body = JSON.parse(r.body) as { ok: boolean; database: { primaryUp: boolean } };
    assert.equal(body.ok, true);
    assert.equal(body.database.primaryUp, true);
    assert.ok(!r.body.includes("sqlite") && !r.body.includes(tdb.uri), r.body);
  });

  it("plain HTTP on a non-loopback address is refused unless explicitly allowed", async () => {
    const s = new ProvisioningServer({ service: new ProvisioningService({ cluster, logger: silentLogger }), logger: silentLogger, host: "192.0.2.10", port: 0, tokens: [] });
    await assert.rejects(s.start(), (err: Error & { code?: string }) => err.code === "THOR_PROVISIONING_UNSAFE" && /HTTPS/.test(err.message));
  });

  it("failed tokens are throttled per source: 429 with Retry-After, while other sources are still served", async () => {
    for (let i = 0; i < 5; i++) assert.equal((await get(url, "/v1/domains", `wrong-token-${i}-0123456789`)).status, 401);
    const blocked = await get(url, "/v1/domains", "wrong-token-x-0123456789");
    assert.equal(blocked.status, 429, blocked.body);
    const retry = Number(blocked.headers["retry-after"]);
    assert.ok(retry >= 1 && retry <= 30, `Retry-After ${String(blocked.headers["retry-after"])}`);
    // Even the right token waits: guessing must not go on while blocked.
    assert.equal((await get(url, "/v1/domains", READ)).status, 429);
    // Another source is not affected.
    assert.equal((await get(url, "/v1/domains", READ, testIp(120, 17))).status, 200);
  });
});
