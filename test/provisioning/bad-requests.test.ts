import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { silentLogger } from "../../src/base/index.js";
import { DatabaseCluster } from "../../src/db/index.js";
import { ProvisioningClient, ProvisioningServer, ProvisioningService, type RawAnswer } from "../../src/provisioning/index.js";
import { createTestDatabase, type TestDatabase } from "../support/databases.js";
import { testIp } from "../support/slot.js";

/** Bad requests get precise 4xx answers with a stable code, on both databases. */
const WRITE = "writer-token-0123456789";
const READ = "reader-token-0123456789";

interface ErrorBody {
  error: { code: string; status: number; message: string; details?: Array<{ path: string; message: string }> };
}

for (const kind of ["sqlite", "postgres"] as const) {
  describe(`provisioning API refuses bad requests (${kind})`, () => {
    let tdb: TestDatabase;
    let cluster: DatabaseCluster;
    let server: ProvisioningServer;
    let http: ProvisioningClient;

    before(async () => {
      tdb = await createTestDatabase(kind);
      cluster = new DatabaseCluster({ logger: silentLogger, migrate: true });
      cluster.setCandidates([{ uri: tdb.uri, priority: 0 }]);
      const service = new ProvisioningService({ cluster, logger: silentLogger });
      server = new ProvisioningServer({ service, logger: silentLogger, host: testIp(30, 2), port: 0, tokens: [{ name: "admin", scope: "write", secret: WRITE }, { name: "viewer", scope: "read", secret: READ }] });
      await server.start();
      http = new ProvisioningClient({ url: server.url });
      const api = new ProvisioningClient({ url: server.url, token: WRITE });
      await api.createDomain({ name: "example.com" });
      await api.createAccount({ username: "alice", domain: "example.com", password: "alice-secret" });
      api.close();
    });

    after(async () => {
      http?.close();
      await server?.stop();
      await cluster?.close();
      await tdb?.drop();
    });

    const send = (method: string, path: string, body?: string, token: string | null = WRITE, type = "application/json") =>
      http.raw(method, path, body, { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body !== undefined ? { "content-type": type } : {}) });

    function expectError(a: RawAnswer, status: number, code: string, detail?: RegExp): ErrorBody["error"] {
      assert.equal(a.status, status, a.text);
      const e = (a.json as ErrorBody).error;
      assert.equal(e.code, code, a.text);
      assert.equal(e.status, status);
      assert.ok(e.message.length > 0);
      if (detail) assert.match(a.text, detail);
      return e;
    }

    it("401 without a token, with a malformed header or an unknown token", async () => {
      const a = await send("GET", "/v1/accounts", undefined, null);
      expectError(a, 401, "THOR_PROVISIONING_UNAUTHORIZED", /missing token/);
      assert.match(String(a.headers["www-authenticate"]), /^Bearer/);
      expectError(await http.raw("GET", "/v1/accounts", undefined, { authorization: "Basic abc" }), 401, "THOR_PROVISIONING_UNAUTHORIZED", /malformed/);
      expectError(await send("GET", "/v1/accounts", undefined, "not-a-known-token-123"), 401, "THOR_PROVISIONING_UNAUTHORIZED", /unknown token/);
    });

    it("403 when a read token writes; reads work with it", async () => {
      assert.equal((await send("GET", "/v1/accounts", undefined, READ)).status, 200);
      expectError(await send("POST", "/v1/domains", JSON.stringify({ name: "x.test" }), READ), 403, "THOR_PROVISIONING_FORBIDDEN", /read-only/);
    });

    it("400 for a body that is not JSON, 415 for another media type", async () => {
      expectError(await send("POST", "/v1/accounts", "{username: alice"), 400, "THOR_PROVISIONING_BAD_JSON", /not valid JSON/);
      expectError(await send("POST", "/v1/accounts", ""), 400, "THOR_PROVISIONING_BAD_JSON", /empty body/);
      expectError(await send("POST", "/v1/accounts", "username=alice", WRITE, "application/x-www-form-urlencoded"), 415, "THOR_PROVISIONING_MEDIA_TYPE");
    });

    it("422 naming unknown fields and each invalid value", async () => {
      const e = expectError(await send("POST", "/v1/accounts", JSON.stringify({ username: "bob", domain: "example.com", password: "bob-secret", colour: "red" })), 422, "THOR_PROVISIONING_VALIDATION");
      assert.deepEqual(e.details, [{ path: "(body)", message: "unknown field(s): colour" }]);
      const f = expectError(await send("POST", "/v1/accounts", JSON.stringify({ username: "bob", domain: "example.com", password: "x", features: { forwardBusy: "http://x", nope: 1 } })), 422, "THOR_PROVISIONING_VALIDATION");
      const paths = f.details!.map((d) => d.path).sort();
      assert.deepEqual(paths, ["features", "features.forwardBusy", "password"]);
      expectError(await send("POST", "/v1/accounts", JSON.stringify([1, 2])), 422, "THOR_PROVISIONING_VALIDATION");
    });

    it("422 for invalid SIP usernames and domains", async () => {
      for (const username of ["", "bob smith", "bob@x", "<bob>", "a".repeat(65), "bob\u00e9", "bob;tag"]) {
        const e = expectError(await send("POST", "/v1/accounts", JSON.stringify({ username, domain: "example.com", password: "bob-secret" })), 422, "THOR_PROVISIONING_VALIDATION");
        assert.equal(e.details?.[0]?.path, "username", username);
        assert.match(e.details?.[0]?.message ?? "", /RFC 3261 user part/);
      }
      const d = expectError(await send("POST", "/v1/accounts", JSON.stringify({ username: "bob", domain: "not a domain", password: "bob-secret" })), 422, "THOR_PROVISIONING_VALIDATION");
      assert.equal(d.details?.[0]?.path, "domain");
      expectError(await send("GET", "/v1/accounts/not-an-aor"), 422, "THOR_PROVISIONING_VALIDATION", /user@domain/);
    });

    it("409 for a duplicate account, 422 for an unknown domain", async () => {
      expectError(await send("POST", "/v1/accounts", JSON.stringify({ username: "alice", domain: "example.com", password: "other-secret" })), 409, "THOR_PROVISIONING_CONFLICT", /alice@example\.com exists already/);
      expectError(await send("POST", "/v1/accounts", JSON.stringify({ username: "alice", domain: "EXAMPLE.com", password: "other-secret" })), 409, "THOR_PROVISIONING_CONFLICT");
      expectError(await send("POST", "/v1/accounts", JSON.stringify({ username: "zed", domain: "nowhere.test", password: "zed-secret" })), 422, "THOR_PROVISIONING_REFERENCE", /domain nowhere\.test does not exist/);
      expectError(await send("POST", "/v1/domains", JSON.stringify({ name: "example.com" })), 409, "THOR_PROVISIONING_CONFLICT");
    });

    it("422 for bad query parameters, 404 for unknown routes and entities, 405 for a wrong method", async () => {
      expectError(await send("GET", "/v1/accounts?limit=0"), 422, "THOR_PROVISIONING_VALIDATION", /query\.limit/);
      expectError(await send("GET", "/v1/accounts?limit=5000"), 422, "THOR_PROVISIONING_VALIDATION");
      expectError(await send("GET", "/v1/accounts?blocked=maybe"), 422, "THOR_PROVISIONING_VALIDATION", /query\.blocked/);
      expectError(await send("GET", "/v1/accounts?sort=name"), 422, "THOR_PROVISIONING_VALIDATION", /unknown field\(s\): sort/);
      expectError(await send("GET", "/v1/domains/example.com?x=1"), 422, "THOR_PROVISIONING_VALIDATION", /unknown query parameter/);
      expectError(await send("GET", "/v1/nothing"), 404, "THOR_PROVISIONING_NOT_FOUND");
      expectError(await send("GET", "/v1/accounts/ghost@example.com"), 404, "THOR_PROVISIONING_NOT_FOUND", /no account ghost@example\.com/);
      expectError(await send("PUT", "/v1/accounts"), 405, "THOR_PROVISIONING_METHOD");
      expectError(await send("DELETE", "/v1/trusted-peers/abc"), 422, "THOR_PROVISIONING_VALIDATION");
      expectError(await send("GET", "/v1/accounts/%E0%A4%A"), 422, "THOR_PROVISIONING_VALIDATION", /percent-encoding/);
    });

    it("413 for a body beyond the limit", async () => {
      const big = JSON.stringify({ username: "bob", domain: "example.com", password: "bob-secret", displayName: "x".repeat(2 * 1024 * 1024) });
      expectError(await send("POST", "/v1/accounts", big), 413, "THOR_PROVISIONING_TOO_LARGE");
    });

    it("nothing was written by any refused request", async () => {
      const a = (await send("GET", "/v1/accounts")).json as { total: number; items: Array<{ username: string }> };
      assert.deepEqual(a.items.map((x) => x.username), ["alice"]);
    });
  });
}
