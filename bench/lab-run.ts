/**
 * The shared lab runner (src/cli/lab-runner.ts) for the benchmarks: members
 * started with their output dropped, an observer to wait on what the members
 * see, every process killed by PID on stop.
 */
import { fileURLToPath } from "node:url";
import { sleep } from "../src/base/index.js";
import type { LabMember, LabPlan } from "../src/cli/lab.js";
import { LabRunner, spawnThorMember, type LabProcess } from "../src/cli/lab-runner.js";

const BIN = fileURLToPath(new URL("../../bin/thor.js", import.meta.url));

export type BenchLab = LabRunner<LabProcess>;

/** Wait until `cond` holds; returns how long it took (ms). */
export async function until(cond: () => boolean, timeoutMs: number, what = "condition"): Promise<number> {
  const start = performance.now();
  while (!cond()) {
    if (performance.now() - start > timeoutMs) throw new Error(`bench: ${what} not reached within ${timeoutMs} ms`);
    await sleep(5);
  }
  return performance.now() - start;
}

/**
 * Start every member of `plan` (certificates already issued) and the observer.
 * THOR_BENCH_NODE_ARGS: options for every member's `node`, space-separated
 * (`--cpu-prof --cpu-prof-dir=/tmp/prof`: a CPU profile of each member).
 */
export async function startBenchLab(plan: LabPlan, extraArgs: (m: LabMember) => string[] = () => []): Promise<BenchLab> {
  const nodeArgs = (process.env["THOR_BENCH_NODE_ARGS"] ?? "").split(" ").filter((a) => a !== "");
  const lab = new LabRunner(plan, spawnThorMember(BIN, { nodeArgs }));
  lab.launch(extraArgs);
  await lab.observe();
  return lab;
}

/** Stop the lab: killed, or stopped gracefully when members run with THOR_BENCH_NODE_ARGS (a profile is written at exit). */
export function stopBenchLab(lab: BenchLab): Promise<void> {
  return lab.stop(process.env["THOR_BENCH_NODE_ARGS"] ? "graceful" : "kill");
}
