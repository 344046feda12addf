import { after, test } from "node:test";
import assert from "node:assert/strict";
import { silentLogger } from "../../src/base/index.js";
import { Health, OpsServer, ThorMetrics } from "../../src/monitor/index.js";
import { sipRequestChannel, sipResponseChannel } from "../../src/sip/index.js";
import { queryChannel } from "../../src/dns/index.js";
import { LOCALHOST } from "../support/slot.js";

const servers: OpsServer[] = [];
after(async () => {
  for (const s of servers) await s.stop();
});

test("diagnostics channels become thor_ metrics; methods and types from outside are folded into a fixed set", async () => {
  const metrics = new ThorMetrics({ component: "node", version: "t", processMetrics: false });
  try {
    sipRequestChannel.publish({ method: "INVITE" });
    sipRequestChannel.publish({ method: "INVITE" });
    sipRequestChannel.publish({ method: "XATTACK-1" });
    sipRequestChannel.publish({ method: "XATTACK-2" });
    sipResponseChannel.publish({ method: "REGISTER", status: 401 });
    queryChannel.publish({ transport: "udp", qtype: "TYPE65000", rcode: "NOERROR", truncated: false });
    const { text, contentType } = await metrics.exposition();
    assert.match(contentType, /text\/plain/);
    assert.match(text, /^thor_sip_requests_total\{method="INVITE"\} 2$/m);
    assert.match(text, /^thor_sip_requests_total\{method="other"\} 2$/m);
    assert.doesNotMatch(text, /XATTACK/);
    assert.match(text, /^thor_sip_responses_total\{method="REGISTER",status="401"\} 1$/m);
    assert.match(text, /^thor_dns_queries_total\{transport="udp",qtype="other",rcode="NOERROR"\} 1$/m);
    assert.match(text, /^thor_build_info\{component="node",version="t"\} 1$/m);
  } finally {
    metrics.close();
  }
  // Closed: no longer subscribed.
  sipRequestChannel.publish({ method: "INVITE" });
  assert.equal(sipRequestChannel.hasSubscribers, false);
});

test("gauges and counters read at scrape time from a member's state", async () => {
  const metrics = new ThorMetrics({ component: "eventserver", version: "t", processMetrics: false });
  let connected = 3;
  const stats = { slow: 1 };
  metrics.gauge("thor_events_connected_members", "h", [], () => connected);
  metrics.counter("thor_events_dropped_subscribers_total", "h", [], () => stats.slow);
  metrics.gauge("thor_ring_share", "h", ["role"], () => [[{ role: "sip_proxy" }, 0.25] as const]);
  let text = (await metrics.exposition()).text;
  assert.match(text, /^thor_events_connected_members 3$/m);
  assert.match(text, /^thor_events_dropped_subscribers_total 1$/m);
  assert.match(text, /^thor_ring_share\{role="sip_proxy"\} 0.25$/m);
  connected = 5;
  stats.slow = 4;
  text = (await metrics.exposition()).text;
  assert.match(text, /^thor_events_connected_members 5$/m);
  assert.match(text, /^thor_events_dropped_subscribers_total 4$/m);
  metrics.close();
});

test("the operations port serves /metrics, /health and /ready (503 until every check passes), JSON without secrets", async () => {
  const metrics = new ThorMetrics({ component: "node", version: "t" });
  const health = new Health({ component: "node", member: "node1", version: "t" });
  let snapshot = false;
  health.check("membership", () => (snapshot ? { ok: true, detail: "epoch 1" } : { ok: false, detail: "no membership snapshot yet" }));
  health.check("database", () => {
    throw new Error("boom");
  });
  const server = new OpsServer({ host: LOCALHOST, port: 0, logger: silentLogger, metrics, health });
  servers.push(server);
  const { port } = await server.start();
  const base = `http://${LOCALHOST}:${port}`;
  const m = await fetch(`${base}/metrics`);
  assert.equal(m.status, 200);
  const body = await m.text();
  assert.match(body, /^process_cpu_seconds_total /m, "process metrics");
  assert.match(body, /^thor_build_info/m);
  const h = await fetch(`${base}/health`);
  assert.equal(h.status, 200);
  const hj = (await h.json()) as Record<string, unknown>;
  assert.equal(hj["status"], "ok");
  assert.equal(hj["member"], "node1");
  let r = await fetch(`${base}/ready`);
  assert.equal(r.status, 503);
  let rj = (await r.json()) as { ready: boolean; checks: Record<string, { ok: boolean; detail?: string }> };
  assert.equal(rj.ready, false);
  assert.equal(rj.checks["membership"]?.ok, false);
  assert.match(rj.checks["database"]?.detail ?? "", /check failed: boom/);
  snapshot = true;
  health.check("database", () => ({ ok: true }));
  r = await fetch(`${base}/ready`);
  assert.equal(r.status, 200);
  rj = (await r.json()) as typeof rj;
  assert.equal(rj.ready, true);
  // Anything else: a JSON 404; a body on GET is bounded.
  const nf = await fetch(`${base}/admin`);
  assert.equal(nf.status, 404);
  assert.deepEqual(await nf.json(), { error: "not found" });
  metrics.close();
});
