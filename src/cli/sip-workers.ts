/**
 * `thor node --sip-workers N`: one host serving SIP with N cores
 * (docs/sip-cluster.md, "Every core of a host"). This process becomes a
 * supervisor of N worker processes, each a full `thor node` (its own
 * member certificate `<name>-w<k>`, member address from `--worker-ips`,
 * control link, internal SIP listener, and place on the `sip_proxy` ring).
 * Every UDP listener of `--sip-listen` is shared by the workers through
 * SO_REUSEPORT (native/reuseport): the kernel hashes each datagram's
 * 4-tuple, so one phone's requests, retransmissions, CANCEL and ACK reach
 * the same worker. Worker k also listens on the UDP port + k of the same
 * address, names it in its Via and sends its requests from it, so
 * responses come back to it. Stream listeners (tcp, tls, ws, wss) are not
 * shared: each worker has them on its own member address.
 *
 * A worker that exits is started again (after 1 s, doubling up to 30 s
 * while it keeps dying within a minute of its start).
 */
import { spawn, type ChildProcess } from "node:child_process";
import type { Logger } from "../base/index.js";
import { ConfigError } from "./config.js";
import { parseListeners } from "./sip-config.js";

/**
 * When a dead worker is started again: after `firstMs`, doubling up to
 * `maxMs` while it keeps dying within `stableMs` of its start.
 */
export const WORKER_RESTART = { firstMs: 1000, maxMs: 30_000, stableMs: 60_000 } as const;

export interface WorkerSettings {
  name: string;
  ip: string;
  sipWorkers: number;
  workerIps: readonly string[];
  sipListen: readonly string[];
  metricsListen?: string | undefined;
  roles: readonly string[];
}

export interface WorkerPlan {
  /** Member name (certificate CN): `<name>-w<k>`. */
  name: string;
  ip: string;
  /** Arguments appended to the supervisor's own (later flags win). */
  args: string[];
}

const bracket = (h: string) => (h.includes(":") ? `[${h}]` : h);

/**
 * The workers of a host. `shared` false (no SO_REUSEPORT opener): one
 * worker on the listeners as given.
 */
export function planWorkers(s: WorkerSettings, shared: boolean): WorkerPlan[] {
  if (s.roles.length !== 1 || s.roles[0] !== "sip_proxy") throw new ConfigError(`sip_workers runs sip_proxy only (roles: ${s.roles.join(",") || "none"}); run other roles in a node of their own`);
  if (s.workerIps.length !== s.sipWorkers) throw new ConfigError(`sip_workers ${s.sipWorkers} needs as many worker_ips (member addresses, one per worker: the ring places members by address), got ${s.workerIps.length}`);
  const listen = parseListeners(s.sipListen.length > 0 ? s.sipListen : [`udp:${s.ip}:5060`, `tcp:${s.ip}:5060`]);
  const count = shared ? s.sipWorkers : 1;
  return Array.from({ length: count }, (_, i) => {
    const k = i + 1;
    const ip = s.workerIps[i]!;
    const sharedSpecs: string[] = [];
    const own: string[] = [];
    for (const l of listen) {
      const adv = l.advertise ? `/${l.advertise}` : "";
      if (l.transport === "udp" && shared) {
        if (l.port + k > 65535) throw new ConfigError(`udp:${l.host}:${l.port}: worker ${k} needs port ${l.port + k}`);
        sharedSpecs.push(`udp:${bracket(l.host)}:${l.port}${adv}`);
        own.push(`udp:${bracket(l.host)}:${l.port + k}${adv}`);
      } else if (l.transport === "udp") {
        own.push(`udp:${bracket(l.host)}:${l.port}${adv}`);
      } else {
        own.push(`${l.transport}:${bracket(ip)}:${l.port}`);
      }
    }
    const args = ["--sip-workers", "1", "--name", `${s.name}-w${k}`, "--ip", ip, "--sip-listen", own.join(","), ...(sharedSpecs.length > 0 ? ["--sip-shared", sharedSpecs.join(",")] : [])];
    if (s.metricsListen) {
      const m = /^(.*):(\d+)$/.exec(s.metricsListen);
      if (!m) throw new ConfigError(`invalid metrics_listen "${s.metricsListen}" (expected HOST:PORT)`);
      args.push("--metrics-listen", `${m[1]}:${Number(m[2]) + k}`);
    }
    return { name: `${s.name}-w${k}`, ip, args };
  });
}

/** Runs the workers until stopped; restarts a worker that exits. */
export class WorkerSupervisor {
  private readonly children = new Map<string, ChildProcess>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private stopping = false;
  /** Restarts so far, by worker name. */
  readonly restarts = new Map<string, number>();

  constructor(
    private readonly plans: readonly WorkerPlan[],
    /** The command line of a worker before its own arguments (node, the thor binary, `node`, the supervisor's flags). */
    private readonly base: readonly string[],
    private readonly log: Logger,
  ) {}

  start(): void {
    for (const p of this.plans) this.launch(p, WORKER_RESTART.firstMs);
  }

  private launch(plan: WorkerPlan, delay: number): void {
    const started = Date.now();
    const child = spawn(this.base[0]!, [...this.base.slice(1), ...plan.args], { stdio: "inherit" });
    this.children.set(plan.name, child);
    this.log.info({ worker: plan.name, pid: child.pid, ip: plan.ip }, "SIP worker started");
    child.once("exit", (code, signal) => {
      if (this.children.get(plan.name) === child) this.children.delete(plan.name);
      if (this.stopping) return;
      const next = Date.now() - started > WORKER_RESTART.stableMs ? WORKER_RESTART.firstMs : Math.min(delay * 2, WORKER_RESTART.maxMs);
      this.log.warn({ worker: plan.name, code, signal, restartInMs: delay }, "SIP worker exited; starting it again");
      const t = setTimeout(() => {
        this.timers.delete(t);
        this.restarts.set(plan.name, (this.restarts.get(plan.name) ?? 0) + 1);
        if (!this.stopping) this.launch(plan, next);
      }, delay);
      this.timers.add(t);
    });
  }

  /** SIGTERM to every worker (SIGKILL after `graceMs`), resolved when all exited. */
  async stop(graceMs = 10_000): Promise<void> {
    this.stopping = true;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    await Promise.all(
      [...this.children.values()].map(
        (c) =>
          new Promise<void>((resolve) => {
            if (c.exitCode !== null || c.signalCode !== null) return resolve();
            const kill = setTimeout(() => c.kill("SIGKILL"), graceMs);
            c.once("exit", () => {
              clearTimeout(kill);
              resolve();
            });
            c.kill("SIGTERM");
          }),
      ),
    );
  }
}
