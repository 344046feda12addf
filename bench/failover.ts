/**
 * Failure detection and recovery of the overlay with real processes on
 * loopback (127.0.4.0/24), default-like timings scaled down: how long after a
 * SIGKILL a node leaves every member's view, and how long after a SIGKILL of
 * the active manager a new manager publishes. The baseline is the configured
 * bound (the detection timeout), so the ratio says how much of the bound is
 * overhead-free detection (< 1.0 would be impossible, ~1.1 is good).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { sleep } from "../src/base/index.js";
import { issueLabCertificates, planLab } from "../src/cli/lab.js";
import { startBenchLab, until } from "./lab-run.js";
import type { BenchResult } from "./types.js";

const ROUNDS = 3;

export async function run(): Promise<BenchResult[]> {
  const dir = mkdtempSync(join(tmpdir(), "thor-bench-failover-"));
  const plan = planLab({ dir, subnet: "127.0.4", fast: true, nodes: [["sip_proxy"], ["sip_proxy"], ["sip_proxy"]] });
  await issueLabCertificates(plan);
  const lab = await startBenchLab(plan);
  const { view } = lab;
  const ids = () => (view.snapshot?.members ?? []).map((m) => m.id);
  try {
    await until(() => ids().length === 3, 30_000);
    const nodeTimes: number[] = [];
    for (let i = 0; i < ROUNDS; i++) {
      void lab.proc("node3").stop("SIGKILL");
      nodeTimes.push(await until(() => !ids().includes("node3"), 20_000));
      lab.start("node3");
      await until(() => ids().includes("node3"), 20_000);
    }
    const mgrTimes: number[] = [];
    for (let i = 0; i < ROUNDS; i++) {
      await until(() => view.activeManager(1000) !== undefined, 20_000);
      const active = view.activeManager(1000)!.id;
      const epoch = view.snapshot!.epoch;
      void lab.proc(active).stop("SIGKILL");
      mgrTimes.push(await until(() => (view.snapshot?.epoch ?? 0) > epoch, 20_000));
      lab.start(active);
      await sleep(1500);
    }
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    return [
      { name: "node SIGKILL → removed from the snapshot", value: mean(nodeTimes), unit: "ms", baseline: { name: "member timeout", value: 2000 }, note: `mean of ${ROUNDS}; max ${Math.round(Math.max(...nodeTimes))} ms` },
      { name: "active manager SIGKILL → new manager's snapshot", value: mean(mgrTimes), unit: "ms", baseline: { name: "manager dead timeout", value: 1000 }, note: `mean of ${ROUNDS}; heartbeat 250 ms; max ${Math.round(Math.max(...mgrTimes))} ms` },
    ];
  } finally {
    await lab.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}
