/**
 * CPU time and memory of running processes, read from /proc (Linux), for
 * benchmarks that must say what a server cost, not only what it did.
 */
import { readFileSync, readdirSync } from "node:fs";

/** Kernel clock ticks per second (USER_HZ); 100 on every Linux this runs on. */
const TICKS = 100;

function readStat(pid: number): { ppid: number; cpu: number } | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, "utf8");
    // Fields after the command name, which is in parentheses and may hold spaces.
    const rest = text.slice(text.lastIndexOf(")") + 2).split(" ");
    return { ppid: Number(rest[1]), cpu: (Number(rest[11]) + Number(rest[12])) / TICKS };
  } catch {
    return undefined;
  }
}

/** `root` and every live descendant of it. */
export function processTree(root: number): number[] {
  const children = new Map<number, number[]>();
  for (const name of readdirSync("/proc")) {
    const pid = Number(name);
    if (!Number.isInteger(pid)) continue;
    const st = readStat(pid);
    if (!st) continue;
    const list = children.get(st.ppid) ?? [];
    list.push(pid);
    children.set(st.ppid, list);
  }
  const out: number[] = [];
  const todo = [root];
  while (todo.length > 0) {
    const pid = todo.pop()!;
    out.push(pid);
    todo.push(...(children.get(pid) ?? []));
  }
  return out;
}

/** User + system CPU seconds consumed so far by `pids` (those still alive). */
export function cpuSeconds(pids: readonly number[]): number {
  let sum = 0;
  for (const pid of pids) sum += readStat(pid)?.cpu ?? 0;
  return sum;
}

/**
 * Seconds the main thread of each of `pids` has spent runnable but waiting
 * for a CPU (the scheduler's run-queue wait, /proc/<pid>/task/<pid>/schedstat),
 * by pid. A server pinned to a core that neighbours also use waits there:
 * it stalls without using CPU.
 */
export function runQueueWait(pids: readonly number[]): Map<number, number> {
  const out = new Map<number, number>();
  for (const pid of pids) {
    try {
      const fields = readFileSync(`/proc/${pid}/task/${pid}/schedstat`, "utf8").trim().split(" ");
      out.set(pid, Number(fields[1]) / 1e9);
    } catch {
      // gone
    }
  }
  return out;
}

/** The longest run-queue wait of any one of `pids` between two {@link runQueueWait} readings, seconds. */
export function longestWait(before: ReadonlyMap<number, number>, after: ReadonlyMap<number, number>): number {
  let max = 0;
  for (const [pid, t] of after) max = Math.max(max, t - (before.get(pid) ?? t));
  return max;
}

/** Proportional set size of `pids` in bytes (shared pages split between their users). */
export function pssBytes(pids: readonly number[]): number {
  let kb = 0;
  for (const pid of pids) {
    try {
      const m = /^Pss:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/smaps_rollup`, "utf8"));
      kb += m ? Number(m[1]) : 0;
    } catch {
      // gone
    }
  }
  return kb * 1024;
}

/**
 * Samples the CPU time of a process that may exit before it can be read
 * again: the last value seen before it went is kept.
 */
export class CpuSampler {
  private readonly last = new Map<number, number>();
  private readonly first = new Map<number, number>();
  private readonly timer: NodeJS.Timeout;

  constructor(intervalMs = 250) {
    this.timer = setInterval(() => this.sample(), intervalMs);
  }

  watch(pid: number): void {
    const cpu = readStat(pid)?.cpu ?? 0;
    if (!this.first.has(pid)) this.first.set(pid, cpu);
    this.last.set(pid, cpu);
  }

  private sample(): void {
    for (const pid of this.last.keys()) {
      const st = readStat(pid);
      if (st) this.last.set(pid, st.cpu);
    }
  }

  /** CPU seconds used by the watched processes since they were first watched. */
  stop(): number {
    this.sample();
    clearInterval(this.timer);
    let sum = 0;
    for (const [pid, cpu] of this.last) sum += cpu - (this.first.get(pid) ?? 0);
    return sum;
  }
}
