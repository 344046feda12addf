import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { opsEndpoints, prometheusConfig } from "../../src/cli/lab.js";
import { FORMATION_MS, Lab } from "../support/lab.js";
import { waitFor } from "../support/wait-for.js";
import { testNet } from "../support/slot.js";

/**
 * Operations end to end (issue 13): every long-running member of a lab
 * network on testIp(141, 0)/24 serves /metrics, /health and /ready on its
 * operations port, and a real Prometheus (Debian `prometheus`) scrapes them
 * all: every target `up`.
 */
const SUBNET = testNet(141);
const PROM = `${SUBNET}.250:9090`;

interface Target {
  health: string;
  labels: Record<string, string>;
  lastError: string;
}

describe("operations: metrics and health of every member, scraped by Prometheus", () => {
  let lab: Lab;
  let prometheus: ChildProcess | undefined;

  before(async () => {
    lab = await Lab.create({ subnet: SUBNET, dns: 1, metricsPort: 9100, subscribers: "database", nodes: [["sip_proxy"], ["sip_proxy", "provisioning_server"]] });
    // A loaded shared machine can take long to start a dozen processes.
    await lab.startAll();
    lab.start("dns1");
  });

  after(async () => {
    if (prometheus && prometheus.exitCode === null) {
      const exited = new Promise((r) => prometheus!.once("exit", r));
      prometheus.kill("SIGKILL");
      await exited;
    }
    await lab?.stop();
  });

  it("every member answers /health and, once it has what it needs, /ready; no secret in either", async () => {
    const endpoints = opsEndpoints(lab.plan);
    assert.deepEqual(endpoints.map((e) => e.kind).sort(), ["database", "dns", "eventserver", "eventserver", "eventserver", "manager", "manager", "node", "node"]);
    for (const e of endpoints) {
      // The lab waited for its nodes only: a DNS server or manager on a loaded machine may still be starting.
      const health = await waitFor(() => fetch(`${e.url}/health`).then((r) => (r.ok ? r.json() : undefined)), { timeoutMs: FORMATION_MS, message: `${e.name} /health` });
      assert.equal((health as { member: string }).member, e.name);
      const ready = await waitFor(() => fetch(`${e.url}/ready`).then((r) => (r.status === 200 ? r.text() : undefined)), { timeoutMs: FORMATION_MS, message: `${e.name} /ready` });
      assert.doesNotMatch(ready, /secret|token|password|BEGIN|\.key/i, `${e.name} /ready shows no secret`);
      assert.doesNotMatch(ready, new RegExp(lab.plan.provisioning!.token));
    }
    const node = endpoints.find((e) => e.name === "node2")!;
    const text = await (await fetch(`${node.url}/metrics`)).text();
    assert.match(text, /^thor_ring_nodes\{role="sip_proxy"\} 2$/m);
    assert.match(text, /^thor_ring_share\{role="sip_proxy"\} 0\.\d+/m);
    assert.match(text, /^thor_membership_snapshots_total\{verdict="applied"\} \d+/m);
    assert.match(text, /^process_resident_memory_bytes /m);
    const es = await (await fetch(`${endpoints.find((e) => e.kind === "eventserver")!.url}/metrics`)).text();
    assert.match(es, /^thor_events_messages_total\{topic="Thor.Presence"\} \d+/m);
    assert.match(es, /^thor_events_connected_members [1-9]/m);
    const mgrs = await Promise.all(endpoints.filter((e) => e.kind === "manager").map(async (e) => (await fetch(`${e.url}/metrics`)).text()));
    assert.equal(mgrs.filter((t) => /^thor_manager_active 1$/m.test(t)).length, 1, "exactly one active manager");
  });

  it("a real Prometheus scrapes every member and finds every target up", async () => {
    const dir = join(lab.plan.dir, "prometheus");
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, "prometheus.yml"), prometheusConfig(lab.plan, "1s"));
    prometheus = spawn("prometheus", [`--config.file=${join(dir, "prometheus.yml")}`, `--storage.tsdb.path=${join(dir, "data")}`, `--web.listen-address=${PROM}`, "--log.level=warn"], { stdio: "ignore" });
    const expected = opsEndpoints(lab.plan).length;
    const targets = await waitFor(
      async () => {
        const r = await fetch(`http://${PROM}/api/v1/targets`);
        const body = (await r.json()) as { data: { activeTargets: Target[] } };
        const t = body.data.activeTargets;
        return t.length === expected && t.every((x) => x.health === "up") ? t : undefined;
      },
      { timeoutMs: 60_000, intervalMs: 250, message: `${expected} Prometheus targets up` },
    );
    assert.deepEqual(targets.map((t) => t.labels["member"]).sort(), opsEndpoints(lab.plan).map((e) => e.name).sort());
    // A query over the scraped data: the SIP nodes' ring shares add up to 1.
    const sum = await waitFor(
      async () => {
        const r = await fetch(`http://${PROM}/api/v1/query?query=${encodeURIComponent('sum(thor_ring_share{role="sip_proxy"})')}`);
        const v = ((await r.json()) as { data: { result: Array<{ value: [number, string] }> } }).data.result[0]?.value[1];
        return v === undefined ? undefined : Number(v);
      },
      { timeoutMs: 10_000, message: "ring share query" },
    );
    assert.ok(Math.abs(sum - 1) < 1e-6, `shares sum to 1, got ${sum}`);
  });
});
