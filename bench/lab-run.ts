/**
 * A lab network (src/cli/lab.ts) run as real `thor` processes for the
 * benchmarks, with an observer (the monitor's certificate and a
 * NetworkView) to wait on what the members see.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { silentLogger, sleep, systemClock } from "../src/base/index.js";
import type { LabMember, LabPlan } from "../src/cli/lab.js";
import { EventClient, parseEndpoint } from "../src/events/index.js";
import { NetworkView } from "../src/monitor/index.js";
import { TlsIdentity } from "../src/pki/index.js";

const BIN = fileURLToPath(new URL("../../bin/thor.js", import.meta.url));

export interface BenchLab {
  plan: LabPlan;
  view: NetworkView;
  procs: Map<string, ChildProcess>;
  /** (Re)start a member by name. */
  start(name: string): void;
  /** Close the observer and SIGKILL every member. */
  stop(): Promise<void>;
}

/** Wait until `cond` holds; returns how long it took (ms). */
export async function until(cond: () => boolean, timeoutMs: number, what = "condition"): Promise<number> {
  const start = performance.now();
  while (!cond()) {
    if (performance.now() - start > timeoutMs) throw new Error(`bench: ${what} not reached within ${timeoutMs} ms`);
    await sleep(5);
  }
  return performance.now() - start;
}

/** Start every member of `plan` (certificates already issued) and the observer. */
export async function startBenchLab(plan: LabPlan, extraArgs: (m: LabMember) => string[] = () => []): Promise<BenchLab> {
  const procs = new Map<string, ChildProcess>();
  const start = (name: string) => {
    const m = plan.members.find((x) => x.name === name)!;
    procs.set(name, spawn(process.execPath, [BIN, ...m.args, ...extraArgs(m)], { stdio: "ignore" }));
  };
  for (const m of plan.members) if (m.kind !== "monitor") start(m.name);
  const mon = plan.members.find((m) => m.kind === "monitor")!;
  const identity = await TlsIdentity.load({ ca: join(plan.caDir, "ca.crt"), cert: mon.cert, key: mon.key });
  const bus = new EventClient({ identity, logger: silentLogger, servers: plan.eventServers.map((s) => parseEndpoint(s)) });
  const view = new NetworkView(systemClock);
  view.attach(bus);
  await bus.start();
  return {
    plan,
    view,
    procs,
    start,
    async stop() {
      await bus.close(500);
      identity.close();
      for (const p of procs.values()) p.kill("SIGKILL");
      await sleep(500);
    },
  };
}
