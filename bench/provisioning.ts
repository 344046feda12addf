/**
 * Provisioning on SQLite and on the machine's PostgreSQL:
 * - account creations per second through the HTTP API (8 clients), against
 *   the same transactions (account + features + audit) made straight
 *   through Kysely with the same concurrency;
 * - time from a change sent to the API to the node's subscriber cache using
 *   it (commit → Thor.Provisioning on an in-process bus → refresh), against
 *   the API round trip of the change itself;
 * - time for a node to load 100k owned accounts into its cache, against one
 *   plain SELECT of the same rows.
 * Every loop is bounded in count and time.
 */
import { silentLogger } from "../src/base/index.js";
import { DatabaseCluster, insertAccount, insertAudit, NO_FEATURES, type Executor } from "../src/db/index.js";
import { LocalHub } from "../src/events/index.js";
import { ha1Of, ProvisioningClient, ProvisioningServer, ProvisioningService, SubscriberCache } from "../src/provisioning/index.js";
import { createTestDatabase } from "../test/support/databases.js";
import type { BenchResult } from "./types.js";

const CREATES = 2000;
const CONCURRENCY = 8;
const CHANGES = 200;
const LOAD_ACCOUNTS = 100_000;
const TIME_LIMIT_MS = 60_000;
const TOKEN = "bench-token-0123456789";

async function pool(n: number, concurrency: number, fn: (i: number) => Promise<void>): Promise<number> {
  let next = 0;
  const deadline = performance.now() + TIME_LIMIT_MS;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < n && performance.now() < deadline) await fn(next++);
    }),
  );
  return (Math.min(next, n) / (performance.now() - t0)) * 1000;
}

const quantile = (xs: number[], q: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(q * xs.length))] ?? NaN;

async function seed(cluster: DatabaseCluster, domain: string, count: number): Promise<void> {
  const at = new Date().toISOString();
  const h = ha1Of("x", domain, "x");
  for (let start = 0; start < count; start += 1000) {
    const rows = Array.from({ length: Math.min(1000, count - start) }, (_, k) => ({
      username: `load${start + k}`,
      domain,
      ha1_md5: h.md5,
      ha1_sha256: h.sha256,
      display_name: null,
      enabled: 1,
      blocked: 0,
      max_calls: null,
      quota: null,
      groups: "[]",
      properties: "{}",
      created_at: at,
      updated_at: at,
    }));
    await cluster.write(async (trx: Executor) => {
      const ids = await trx.insertInto("accounts").values(rows).returning("id").execute();
      await trx.insertInto("call_features").values(ids.map((r) => ({ account_id: Number(r.id), forward_unconditional: null, forward_busy: null, forward_no_answer: null, forward_no_answer_timeout: null, forward_unavailable: null, dnd: 0, block_incoming: "[]", block_outgoing: "[]", updated_at: at }))).execute();
    });
  }
}

async function benchOne(kind: "sqlite" | "postgres"): Promise<BenchResult[]> {
  const tdb = await createTestDatabase(kind, "thor_bench");
  const cluster = new DatabaseCluster({ logger: silentLogger, migrate: true });
  cluster.setCandidates([{ uri: tdb.uri, priority: 0 }]);
  const hub = new LocalHub();
  const provBus = hub.attach({ OU: "node", CN: "prov" }, ["provisioning_server"]);
  const nodeBus = hub.attach({ OU: "node", CN: "node1" }, ["sip_proxy"]);
  const service = new ProvisioningService({ cluster, logger: silentLogger, publisher: { publish: (c) => provBus.publish("Thor.Provisioning", { aors: c.aors, at: Date.now() }) } });
  const server = new ProvisioningServer({ service, logger: silentLogger, host: "127.0.30.50", port: 0, tokens: [{ name: "bench", scope: "write", secret: TOKEN }] });
  await server.start();
  const api = new ProvisioningClient({ url: server.url, token: TOKEN });
  const out: BenchResult[] = [];
  try {
    await api.createDomain({ name: "api.test" });
    await api.createDomain({ name: "direct.test" });
    await api.createDomain({ name: "load.test" });
    // 1. creations per second
    const direct = await pool(CREATES, CONCURRENCY, async (i) => {
      await cluster.write(async (db) => {
        await insertAccount(db, { username: `d${i}`, domain: "direct.test", ha1: ha1Of(`d${i}`, "direct.test", "bench-secret"), displayName: null, enabled: true, blocked: false, maxCalls: null, quota: null, groups: [], properties: {}, features: { ...NO_FEATURES } });
        await insertAudit(db, { actor: "bench", action: "create", entity: "account", key: `d${i}@direct.test` });
      });
    });
    const viaApi = await pool(CREATES, CONCURRENCY, async (i) => {
      await api.createAccount({ username: `a${i}`, domain: "api.test", password: "bench-secret" });
    });
    out.push({ name: `${kind}: account creations via the API (${CONCURRENCY} clients)`, value: viaApi, unit: "accounts/s", baseline: { name: "same transactions via Kysely", value: direct } });

    // 2. committed change → node cache
    const cache = new SubscriberCache({ source: cluster, logger: silentLogger });
    await cache.load((aor) => aor.endsWith("@api.test"));
    const waiters = new Map<string, () => void>();
    nodeBus.subscribe("Thor.Provisioning", (c) => void cache.refresh(c.aors));
    cache.onEvent((e) => {
      if (e.type === "refreshed") waiters.get(e.aor)?.();
    });
    const seen: number[] = [];
    const rtt: number[] = [];
    const deadline = performance.now() + TIME_LIMIT_MS;
    for (let i = 0; i < CHANGES && performance.now() < deadline; i++) {
      const aor = `a${i % 100}@api.test`;
      const t0 = performance.now();
      const inCache = new Promise<number>((resolve) => waiters.set(aor, () => resolve(performance.now() - t0)));
      await api.updateAccount(aor, { password: `changed-${i}-secret` });
      rtt.push(performance.now() - t0);
      seen.push(await inCache);
      waiters.delete(aor);
      const h = cache.lookup(aor.split("@")[0]!, "api.test");
      if (h?.ha1.MD5 !== ha1Of(aor.split("@")[0]!, "api.test", `changed-${i}-secret`).md5) throw new Error("cache did not get the change");
    }
    out.push({ name: `${kind}: change sent → node cache using it, median`, value: quantile(seen, 0.5), unit: "ms", baseline: { name: "API round trip of the change", value: quantile(rtt, 0.5) }, note: `p99 ${quantile(seen, 0.99).toFixed(1)} ms; in-process bus` });

    // 3. load 100k owned accounts
    await seed(cluster, "load.test", LOAD_ACCOUNTS);
    const t0 = performance.now();
    const rows = await cluster.read((db) => db.selectFrom("accounts").select(["id", "username", "domain", "ha1_md5", "ha1_sha256", "enabled", "blocked"]).where("domain", "=", "load.test").execute());
    const plain = performance.now() - t0;
    if (rows.length !== LOAD_ACCOUNTS) throw new Error(`seeded ${rows.length}`);
    const loader = new SubscriberCache({ source: cluster, logger: silentLogger });
    const r = await loader.load((aor) => aor.endsWith("@load.test"));
    if (r.accounts !== LOAD_ACCOUNTS) throw new Error(`loaded ${r.accounts}`);
    out.push({ name: `${kind}: node start-up, load ${LOAD_ACCOUNTS / 1000}k owned accounts`, value: r.ms, unit: "ms", baseline: { name: "one plain SELECT of the rows", value: plain }, note: `${r.scanned} scanned, pages of 5000 with features and aliases` });
  } finally {
    api.close();
    await server.stop();
    await cluster.close();
    await tdb.drop();
  }
  return out;
}

export async function run(): Promise<BenchResult[]> {
  return [...(await benchOne("sqlite")), ...(await benchOne("postgres"))];
}
