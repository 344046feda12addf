import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { silentLogger, systemClock } from "../../src/base/index.js";
import { issueLabCertificates, planLab, type LabMember, type LabOptions, type LabPlan } from "../../src/cli/lab.js";
import { EventClient, parseEndpoint } from "../../src/events/index.js";
import { NetworkView } from "../../src/monitor/index.js";
import { TlsIdentity } from "../../src/pki/index.js";
import { startThor, type ThorProcess } from "./processes.js";
import { waitFor } from "./wait-for.js";

/**
 * A real network of `thor` processes on loopback for end-to-end tests, with
 * an in-test observer (the monitor's certificate, an EventClient and a
 * NetworkView) to wait on what every member sees.
 */
export class Lab {
  readonly procs = new Map<string, ThorProcess>();
  readonly view = new NetworkView(systemClock);
  private bus: EventClient | undefined;
  private identity: TlsIdentity | undefined;

  private constructor(readonly plan: LabPlan) {}

  static async create(opts: Omit<LabOptions, "dir">): Promise<Lab> {
    const dir = mkdtempSync(join(tmpdir(), "thor-lab-"));
    const lab = new Lab(planLab({ ...opts, dir, fast: opts.fast ?? true }));
    await issueLabCertificates(lab.plan);
    return lab;
  }

  member(name: string): LabMember {
    const m = this.plan.members.find((x) => x.name === name);
    if (!m) throw new Error(`no lab member ${name}`);
    return m;
  }

  of(kind: LabMember["kind"]): LabMember[] {
    return this.plan.members.filter((m) => m.kind === kind);
  }

  start(name: string, extraArgs: string[] = []): ThorProcess {
    const m = this.member(name);
    const p = startThor(name, [...m.args, ...extraArgs]);
    this.procs.set(name, p);
    return p;
  }

  proc(name: string): ThorProcess {
    const p = this.procs.get(name);
    if (!p) throw new Error(`lab member ${name} not started`);
    return p;
  }

  /** Start every member (event servers first) and the observer; wait for a full snapshot. */
  async startAll(timeoutMs = 30_000): Promise<void> {
    for (const kind of ["eventserver", "manager", "database", "node"] as const) for (const m of this.of(kind)) this.start(m.name);
    await this.observe();
    const nodes = this.of("node").length;
    await waitFor(
      () => {
        const dead = [...this.procs.values()].find((p) => !p.alive);
        if (dead) throw new Error(`member exited early: ${dead.describe()}`);
        return (this.view.snapshot?.members.length ?? 0) === nodes;
      },
      { timeoutMs, message: `${nodes} nodes in the snapshot` },
    );
  }

  async observe(): Promise<void> {
    const mon = this.member("monitor");
    this.identity = await TlsIdentity.load({ ca: join(this.plan.caDir, "ca.crt"), cert: mon.cert, key: mon.key, crl: join(this.plan.caDir, "crl.pem") });
    this.bus = new EventClient({ identity: this.identity, logger: silentLogger, servers: this.plan.eventServers.map((s) => parseEndpoint(s)), reconnectMaxMs: 500 });
    this.view.attach(this.bus);
    await this.bus.start();
  }

  get observer(): EventClient {
    if (!this.bus) throw new Error("observer not started");
    return this.bus;
  }

  memberIds(): string[] {
    return (this.view.snapshot?.members ?? []).map((m) => m.id).sort();
  }

  async stop(): Promise<void> {
    await this.bus?.close(500);
    this.identity?.close();
    await Promise.all([...this.procs.values()].map((p) => p.stop("SIGKILL", 5000)));
    rmSync(this.plan.dir, { recursive: true, force: true });
  }
}
