/**
 * Failure detection and recovery of the overlay with real processes on
 * loopback (127.0.4.0/24), default-like timings scaled down: how long after a
 * SIGKILL a node leaves every member's view, and how long after a SIGKILL of
 * the active manager a new manager publishes. The baseline is the configured
 * bound (the detection timeout), so the ratio says how much of the bound is
 * overhead-free detection (< 1.0 would be impossible, ~1.1 is good).
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { silentLogger, sleep, systemClock } from "../src/base/index.js";
import { issueLabCertificates, planLab } from "../src/cli/lab.js";
import { EventClient, parseEndpoint } from "../src/events/index.js";
import { NetworkView } from "../src/monitor/index.js";
import { TlsIdentity } from "../src/pki/index.js";
import type { BenchResult } from "./types.js";

const BIN = fileURLToPath(new URL("../../bin/thor.js", import.meta.url));
const ROUNDS = 3;

async function until(cond: () => boolean, timeoutMs: number): Promise<number> {
  const start = performance.now();
  while (!cond()) {
    if (performance.now() - start > timeoutMs) throw new Error("failover bench: condition not reached");
    await sleep(5);
  }
  return performance.now() - start;
}

export async function run(): Promise<BenchResult[]> {
  const dir = mkdtempSync(join(tmpdir(), "thor-bench-failover-"));
  const plan = planLab({ dir, subnet: "127.0.4", fast: true, nodes: [["sip_proxy"], ["sip_proxy"], ["sip_proxy"]] });
  await issueLabCertificates(plan);
  const procs = new Map<string, ChildProcess>();
  const start = (name: string) => {
    const m = plan.members.find((x) => x.name === name)!;
    procs.set(name, spawn(process.execPath, [BIN, ...m.args], { stdio: "ignore" }));
  };
  for (const m of plan.members) if (m.kind !== "monitor") start(m.name);
  const mon = plan.members.find((m) => m.kind === "monitor")!;
  const identity = await TlsIdentity.load({ ca: join(plan.caDir, "ca.crt"), cert: mon.cert, key: mon.key });
  const bus = new EventClient({ identity, logger: silentLogger, servers: plan.eventServers.map((s) => parseEndpoint(s)) });
  const view = new NetworkView(systemClock);
  view.attach(bus);
  await bus.start();
  const ids = () => (view.snapshot?.members ?? []).map((m) => m.id);
  try {
    await until(() => ids().length === 3, 30_000);
    const nodeTimes: number[] = [];
    for (let i = 0; i < ROUNDS; i++) {
      procs.get("node3")!.kill("SIGKILL");
      nodeTimes.push(await until(() => !ids().includes("node3"), 20_000));
      start("node3");
      await until(() => ids().includes("node3"), 20_000);
    }
    const mgrTimes: number[] = [];
    for (let i = 0; i < ROUNDS; i++) {
      await until(() => view.activeManager(1000) !== undefined, 20_000);
      const active = view.activeManager(1000)!.id;
      const epoch = view.snapshot!.epoch;
      procs.get(active)!.kill("SIGKILL");
      mgrTimes.push(await until(() => (view.snapshot?.epoch ?? 0) > epoch, 20_000));
      start(active);
      await sleep(1500);
    }
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    return [
      { name: "node SIGKILL → removed from the snapshot", value: mean(nodeTimes), unit: "ms", baseline: { name: "member timeout", value: 2000 }, note: `mean of ${ROUNDS}; max ${Math.round(Math.max(...nodeTimes))} ms` },
      { name: "active manager SIGKILL → new manager's snapshot", value: mean(mgrTimes), unit: "ms", baseline: { name: "manager dead timeout", value: 1000 }, note: `mean of ${ROUNDS}; heartbeat 250 ms; max ${Math.round(Math.max(...mgrTimes))} ms` },
    ];
  } finally {
    await bus.close(500);
    identity.close();
    for (const p of procs.values()) p.kill("SIGKILL");
    rmSync(dir, { recursive: true, force: true });
  }
}
