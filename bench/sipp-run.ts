import { spawn } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";

export interface SippStats {
  ok: number;
  failed: number;
  seconds: number;
  /** Messages SIPp had to send again (its `Retransmissions(C)`). */
  retransmissions: number;
  /** With `rtt`: the longest response time SIPp measured for one call (its `rtd` marks), ms. */
  maxRttMs?: number;
}

export interface SippRunOptions {
  /** SIPp is killed after this long. @default 120 s */
  limitMs?: number;
  /** Command prefix, e.g. `["taskset", "-c", "1"]` to pin SIPp to a core. */
  prefix?: readonly string[];
  /** Called with SIPp's PID once it runs (to sample its CPU). */
  onSpawn?: (pid: number) => void;
  /** Record every call's response time (`-trace_rtt`) and report the longest. */
  rtt?: boolean;
}

/**
 * Run SIPp to completion (killed after `limitMs`) and read its final
 * statistics line: successful and failed scenarios, retransmissions and the
 * wall time.
 */
export function runSippStats(args: string[], cwd: string, opts: SippRunOptions | number = {}): Promise<SippStats> {
  const o: SippRunOptions = typeof opts === "number" ? { limitMs: opts } : opts;
  const stat = join(cwd, `stat-${Math.random().toString(36).slice(2)}.csv`);
  const started = performance.now();
  const argv = [...(o.prefix ?? []), "sipp", ...args, "-nostdin", "-trace_stat", "-stf", stat, "-fd", "1", ...(o.rtt ? ["-trace_rtt", "-rtt_freq", "1"] : [])];
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0]!, argv.slice(1), { cwd, stdio: "ignore" });
    if (child.pid !== undefined) o.onSpawn?.(child.pid);
    const killer = setTimeout(() => child.kill("SIGKILL"), o.limitMs ?? 120_000);
    child.once("error", reject);
    child.once("exit", () => {
      clearTimeout(killer);
      const seconds = (performance.now() - started) / 1000;
      try {
        const lines = readFileSync(stat, "utf8").trim().split("\n");
        const head = lines[0]!.split(";");
        const last = lines[lines.length - 1]!.split(";");
        const col = (name: string) => Number(last[head.indexOf(name)] ?? 0);
        const stats: SippStats = { ok: col("SuccessfulCall(C)"), failed: col("FailedCall(C)"), retransmissions: col("Retransmissions(C)"), seconds };
        if (o.rtt && child.pid !== undefined) stats.maxRttMs = maxRtt(cwd, child.pid);
        resolve(stats);
      } catch (err) {
        reject(err instanceof Error ? err : new Error(String(err)));
      }
    });
  });
}

/** The longest response time in SIPp's `<scenario>_<pid>_rtt.csv` (`date_ms;response_time_ms;rtd_no` rows). */
function maxRtt(cwd: string, pid: number): number {
  const file = readdirSync(cwd).find((f) => f.endsWith(`_${pid}_rtt.csv`));
  if (!file) return 0;
  let max = 0;
  for (const line of readFileSync(join(cwd, file), "utf8").split("\n").slice(1)) {
    const ms = Number(line.split(";")[1]);
    if (Number.isFinite(ms) && ms > max) max = ms;
  }
  return max;
}
