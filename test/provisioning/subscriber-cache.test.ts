import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { silentLogger } from "../../src/base/index.js";
import { DatabaseCluster } from "../../src/db/index.js";
import { DEFAULT_PUBLISH_POLICY, publishAllowed } from "../../src/events/server.js";
import { ProvisioningService, SubscriberCache } from "../../src/provisioning/index.js";
import { computeHa1, type CredentialStore } from "../../src/sip/index.js";
import { createTestDatabase, type TestDatabase } from "../support/databases.js";

/** The SIP side's subscriber cache over real databases. */
for (const kind of ["sqlite", "postgres"] as const) {
  describe(`subscriber cache (${kind})`, () => {
    let tdb: TestDatabase;
    let cluster: DatabaseCluster;
    let service: ProvisioningService;

    before(async () => {
      tdb = await createTestDatabase(kind, "thor_cache");
      cluster = new DatabaseCluster({ logger: silentLogger, migrate: true });
      cluster.setCandidates([{ uri: tdb.uri, priority: 0 }]);
      service = new ProvisioningService({ cluster, logger: silentLogger });
      await service.importAll("test", {
        domains: [{ name: "example.com" }, { name: "other.test" }],
        accounts: Array.from({ length: 50 }, (_, i) => ({ username: `u${i}`, domain: i < 40 ? "example.com" : "other.test", password: `pw-${i}-secret` })),
        aliases: [{ alias: "alias2@example.com", account: "u2@example.com" }, { kind: "did", alias: "+15550000002", account: "u2@example.com" }],
      });
    });

    after(async () => {
      await cluster?.close();
      await tdb?.drop();
    });

    const evenOwner = (aor: string) => Number(/^u(\d+)@/.exec(aor)?.[1] ?? "1") % 2 === 0;

    it("loads only the accounts the node owns, in pages, and answers digest lookups from memory", async () => {
      const cache = new SubscriberCache({ source: cluster, logger: silentLogger, pageSize: 7 });
      const store: CredentialStore = cache; // structurally the SIP stack's credential store
      const r = await cache.load(evenOwner);
      assert.equal(r.scanned, 50);
      assert.equal(r.accounts, 25);
      assert.equal(cache.size, 25);
      const c = store.lookup("u4", "example.com");
      assert.equal(c?.ha1?.MD5, computeHa1("MD5", "u4", "example.com", "pw-4-secret"));
      assert.equal(c?.ha1?.["SHA-256"], computeHa1("SHA-256", "u4", "example.com", "pw-4-secret"));
      assert.equal(c?.blocked, false);
      assert.equal(store.lookup("u5", "example.com"), undefined, "not owned");
      assert.equal(store.lookup("u4", "other.test"), undefined, "realm is the domain");
      assert.equal(cache.resolveAlias("alias2@example.com"), "u2@example.com");
      assert.equal(cache.resolveAlias("+15550000002@example.com"), "u2@example.com");
      assert.deepEqual(cache.get("u2@EXAMPLE.com")?.aliases.sort(), ["+15550000002@example.com", "alias2@example.com"]);
    });

    it("refreshes changed accounts: password, blocked, call features, deletion", async () => {
      const cache = new SubscriberCache({ source: cluster, logger: silentLogger });
      await cache.load(evenOwner);
      await service.updateAccount("test", "u6@example.com", { password: "changed-secret", blocked: true, features: { forwardBusy: "sip:vm@example.com", dnd: true } });
      await service.deleteAccount("test", "u8@example.com");
      await service.updateAccount("test", "u7@example.com", { blocked: true });
      assert.equal(cache.lookup("u6", "example.com")?.blocked, false, "not seen before the refresh");
      await cache.refresh(["u6@example.com", "u8@example.com", "u7@example.com"]);
      const c = cache.lookup("u6", "example.com");
      assert.equal(c?.ha1.MD5, computeHa1("MD5", "u6", "example.com", "changed-secret"));
      assert.equal(c?.blocked, true);
      assert.equal(cache.get("u6@example.com")?.features.forwardBusy, "sip:vm@example.com");
      assert.equal(cache.get("u6@example.com")?.features.dnd, true);
      assert.equal(cache.lookup("u8", "example.com"), undefined);
      assert.equal(cache.get("u7@example.com"), undefined, "not owned: not cached");
      await service.updateAccount("test", "u10@example.com", { enabled: false });
      await cache.refresh(["u10@example.com"]);
      assert.equal(cache.lookup("u10", "example.com")?.blocked, true, "a disabled account is refused like a blocked one");
    });

    it("a new slice replaces the old one; accounts of other nodes are read from the database on demand", async () => {
      const cache = new SubscriberCache({ source: cluster, logger: silentLogger });
      await cache.load(evenOwner);
      await cache.load((aor) => !evenOwner(aor));
      assert.equal(cache.lookup("u4", "example.com"), undefined);
      assert.ok(cache.lookup("u5", "example.com"));
      const far = await cache.lookupAnywhere("u4", "example.com");
      assert.equal(far?.ha1.MD5, computeHa1("MD5", "u4", "example.com", "pw-4-secret"));
    });

    it("a domain-wide change reloads every owned account of the domain", async () => {
      const cache = new SubscriberCache({ source: cluster, logger: silentLogger, pageSize: 3 });
      await cache.load(() => true);
      await service.updateAccount("test", "u41@other.test", { displayName: "Changed" });
      await cache.refreshDomains(["other.test"]);
      assert.equal(cache.get("u41@other.test")?.displayName, "Changed");
    });
  });
}

describe("Thor.Provisioning publish policy", () => {
  const policy = DEFAULT_PUBLISH_POLICY["Thor.Provisioning"]!;
  it("allows managers and nodes whose certificate allows provisioning_server, refuses other nodes", () => {
    assert.equal(publishAllowed(policy, { subject: { OU: "manager", CN: "mgr1" }, roles: ["*"] }), true);
    assert.equal(publishAllowed(policy, { subject: { OU: "node", CN: "n1" }, roles: ["sip_proxy", "provisioning_server"] }), true);
    assert.equal(publishAllowed(policy, { subject: { OU: "node", CN: "n2" }, roles: ["sip_proxy"] }), false);
    assert.equal(publishAllowed(policy, { subject: { OU: "monitor", CN: "m" }, roles: ["monitor"] }), false);
  });
});
