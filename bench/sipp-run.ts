import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";

export interface SippStats {
  ok: number;
  failed: number;
  seconds: number;
}

/**
 * Run SIPp to completion (killed after `limitMs`) and read its final
 * statistics line: successful and failed scenarios and the wall time.
 */
export function runSippStats(args: string[], cwd: string, limitMs = 120_000): Promise<SippStats> {
  const stat = join(cwd, `stat-${Math.random().toString(36).slice(2)}.csv`);
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn("sipp", [...args, "-nostdin", "-trace_stat", "-stf", stat, "-fd", "1"], { cwd, stdio: "ignore" });
    const killer = setTimeout(() => child.kill("SIGKILL"), limitMs);
    child.once("error", reject);
    child.once("exit", () => {
      clearTimeout(killer);
      const seconds = (performance.now() - started) / 1000;
      try {
        const lines = readFileSync(stat, "utf8").trim().split("\n");
        const head = lines[0]!.split(";");
        const last = lines[lines.length - 1]!.split(";");
        const col = (name: string) => Number(last[head.indexOf(name)] ?? 0);
        resolve({ ok: col("SuccessfulCall(C)"), failed: col("FailedCall(C)"), seconds });
      } catch (err) {
        reject(err instanceof Error ? err : new Error(String(err)));
      }
    });
  });
}
