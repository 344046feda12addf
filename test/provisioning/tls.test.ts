import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { silentLogger } from "../../src/base/index.js";
import { DatabaseCluster } from "../../src/db/index.js";
import { initCa, issueCertificate } from "../../src/pki/index.js";
import { ProvisioningClient, ProvisioningServer, ProvisioningService } from "../../src/provisioning/index.js";
import { createTestDatabase, type TestDatabase } from "../support/databases.js";
import { testIp, testNetRe } from "../support/slot.js";

/** The API over HTTPS with a node certificate of the operator CA (testIp(30, 20)). */
describe("provisioning API over TLS", () => {
  const dir = mkdtempSync(join(tmpdir(), "thor-prov-tls-"));
  let tdb: TestDatabase;
  let cluster: DatabaseCluster;
  let server: ProvisioningServer;

  before(async () => {
    await initCa(join(dir, "ca"), { commonName: "test CA", org: "sipthor" });
    await issueCertificate(join(dir, "ca"), "prov1", { ip: [testIp(30, 20)], ou: "node", roles: ["provisioning_server"] });
    tdb = await createTestDatabase("sqlite");
    cluster = new DatabaseCluster({ logger: silentLogger, migrate: true });
    cluster.setCandidates([{ uri: tdb.uri, priority: 0 }]);
    server = new ProvisioningServer({
      service: new ProvisioningService({ cluster, logger: silentLogger }),
      logger: silentLogger,
      host: testIp(30, 20),
      port: 0,
      tokens: [{ name: "admin", scope: "write", secret: "tls-writer-token-0123" }],
      tls: { cert: readFileSync(join(dir, "ca", "certs", "prov1.crt")), key: readFileSync(join(dir, "ca", "certs", "prov1.key")) },
    });
    await server.start();
  });

  after(async () => {
    await server?.stop();
    await cluster?.close();
    await tdb?.drop();
    rmSync(dir, { recursive: true, force: true });
  });

  it("serves HTTPS verified against the operator CA", async () => {
    assert.match(server.url, new RegExp(String.raw`^https:\/\/${testNetRe(30)}\.20:\d+$`));
    const api = new ProvisioningClient({ url: server.url, token: "tls-writer-token-0123", ca: readFileSync(join(dir, "ca", "ca.crt")) });
    try {
      assert.equal((await api.createDomain({ name: "secure.test" })).name, "secure.test");
      assert.equal((await api.listDomains()).total, 1);
    } finally {
      api.close();
    }
  });

  it("a client that does not trust the CA refuses the server", async () => {
    const api = new ProvisioningClient({ url: server.url, token: "tls-writer-token-0123" });
    try {
      await assert.rejects(api.listDomains(), /self-signed|unable to verify|certificate/i);
    } finally {
      api.close();
    }
  });
});
