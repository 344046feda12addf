/**
 * Runs a planned lab network (lab.ts) as real `thor` processes, with an
 * observer (the monitor's certificate, an EventClient and a NetworkView) to
 * wait on what every member sees. The one runner shared by `thor demo`, the
 * end-to-end tests (test/support/lab.ts) and the benchmarks
 * (bench/lab-run.ts): they differ only in how a member process is spawned
 * (log file, collected JSON lines, or nothing), which they pass in.
 */
import { spawn } from "node:child_process";
import { createWriteStream } from "node:fs";
import { join } from "node:path";
import { silentLogger, sleep, systemClock } from "../base/index.js";
import { EventClient, parseEndpoint } from "../events/index.js";
import { NetworkView } from "../monitor/index.js";
import { TlsIdentity } from "../pki/index.js";
import type { LabMember, LabPlan } from "./lab.js";

/** A started member process, as the runner needs it. */
export interface LabProcess {
  readonly pid: number;
  readonly alive: boolean;
  /** Send `signal`, SIGKILL after `graceMs`, resolve on exit. */
  stop(signal?: NodeJS.Signals, graceMs?: number): Promise<unknown>;
}

/** Starts one member: `args` are the arguments after `thor`. */
export type LabSpawner<P extends LabProcess> = (member: LabMember, args: string[]) => P;

/** Members in start order; stopped in reverse (nodes announce their leave before the event servers go). */
export const LAB_START_ORDER: ReadonlyArray<LabMember["kind"]> = ["eventserver", "manager", "database", "node", "dns", "dashboard"];

export class LabRunner<P extends LabProcess> {
  readonly procs = new Map<string, P>();
  readonly view = new NetworkView(systemClock);
  private bus: EventClient | undefined;
  private identity: TlsIdentity | undefined;

  constructor(
    readonly plan: LabPlan,
    private readonly spawnMember: LabSpawner<P>,
  ) {}

  member(name: string): LabMember {
    const m = this.plan.members.find((x) => x.name === name);
    if (!m) throw new Error(`no lab member ${name}`);
    return m;
  }

  of(kind: LabMember["kind"]): LabMember[] {
    return this.plan.members.filter((m) => m.kind === kind);
  }

  /** (Re)start a member by name, with extra arguments. */
  start(name: string, extraArgs: string[] = []): P {
    const m = this.member(name);
    const p = this.spawnMember(m, [...m.args, ...extraArgs]);
    this.procs.set(name, p);
    if (!this.reaping) {
      // Whatever ends this process (an uncaught error included), its members do not outlive it.
      this.reaping = true;
      process.once("exit", this.reap);
    }
    return p;
  }

  private reaping = false;
  private readonly reap = () => {
    for (const p of this.procs.values()) {
      if (!p.alive) continue;
      try {
        process.kill(p.pid, "SIGKILL");
      } catch {
        // already gone
      }
    }
  };

  proc(name: string): P {
    const p = this.procs.get(name);
    if (!p) throw new Error(`lab member ${name} not started`);
    return p;
  }

  /** Start every member in {@link LAB_START_ORDER} (`kinds` limits which). */
  launch(extraArgs: (m: LabMember) => string[] = () => [], kinds: ReadonlyArray<LabMember["kind"]> = LAB_START_ORDER): void {
    for (const kind of kinds) for (const m of this.of(kind)) this.start(m.name, extraArgs(m));
  }

  /** Connect the observer (idempotent). */
  async observe(): Promise<EventClient> {
    if (this.bus) return this.bus;
    const mon = this.member("monitor");
    this.identity = await TlsIdentity.load({ ca: join(this.plan.caDir, "ca.crt"), cert: mon.cert, key: mon.key, crl: join(this.plan.caDir, "crl.pem") });
    this.bus = new EventClient({ identity: this.identity, logger: silentLogger, servers: this.plan.eventServers.map((s) => parseEndpoint(s)), reconnectMaxMs: 500 });
    this.view.attach(this.bus);
    await this.bus.start();
    return this.bus;
  }

  get observer(): EventClient {
    if (!this.bus) throw new Error("observer not started");
    return this.bus;
  }

  /** Ids in the newest snapshot, sorted. */
  memberIds(): string[] {
    return (this.view.snapshot?.members ?? []).map((m) => m.id).sort();
  }

  /**
   * Wait until the snapshot lists `count` members (default: every planned
   * node); false on timeout. Throws at once if a started member exited.
   */
  async waitForMembers(timeoutMs: number, count = this.of("node").length): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while ((this.view.snapshot?.members.length ?? 0) !== count) {
      const dead = [...this.procs.entries()].find(([, p]) => !p.alive);
      if (dead) throw new Error(`lab member ${dead[0]} (pid ${dead[1].pid}) exited early`);
      if (Date.now() > deadline) return false;
      await sleep(50);
    }
    return true;
  }

  /** Close the observer and stop every member: gracefully in reverse start order (SIGTERM), or all at once with SIGKILL. */
  async stop(mode: "graceful" | "kill" = "kill"): Promise<void> {
    await this.bus?.close(500);
    this.bus = undefined;
    this.identity?.close();
    this.identity = undefined;
    if (mode === "kill") {
      await Promise.all([...this.procs.values()].map((p) => p.stop("SIGKILL", 5_000)));
      return;
    }
    const exits: Array<Promise<unknown>> = [];
    for (const kind of [...LAB_START_ORDER].reverse()) {
      for (const m of this.of(kind)) {
        const p = this.procs.get(m.name);
        if (p?.alive) exits.push(p.stop("SIGTERM", 8_000));
      }
      if (kind !== "eventserver") await sleep(300);
    }
    await Promise.all(exits);
  }
}

export interface SpawnOptions {
  /** Append the member's output to its planned log file (`member.log`). @default false: output dropped */
  logToFile?: boolean;
  /** Called when the member exits (code or signal). */
  onExit?: (member: LabMember, how: string) => void;
  /** Options for the member's `node` before the script (e.g. `--cpu-prof`). @default none */
  nodeArgs?: string[];
}

/** Spawns members as `node <bin> ...args`, killed by PID on stop. */
export function spawnThorMember(bin: string, opts: SpawnOptions = {}): LabSpawner<LabProcess> {
  return (m, args) => {
    const toFile = opts.logToFile === true && m.log !== "";
    const child = spawn(process.execPath, [...(opts.nodeArgs ?? []), bin, ...args], { stdio: toFile ? ["ignore", "pipe", "pipe"] : "ignore", env: { ...process.env, THOR_LOG_FORMAT: "json" } });
    if (toFile) {
      const out = createWriteStream(m.log, { flags: "a" });
      child.stdout?.pipe(out);
      child.stderr?.pipe(out);
    }
    const exited = new Promise<void>((r) =>
      child.once("exit", (code, signal) => {
        opts.onExit?.(m, String(signal ?? code));
        r();
      }),
    );
    return {
      pid: child.pid ?? -1,
      get alive() {
        return child.exitCode === null && child.signalCode === null;
      },
      async stop(signal: NodeJS.Signals = "SIGTERM", graceMs = 10_000) {
        if (child.exitCode !== null || child.signalCode !== null) return;
        child.kill(signal);
        const t = setTimeout(() => child.kill("SIGKILL"), graceMs);
        await exited;
        clearTimeout(t);
      },
    };
  };
}
