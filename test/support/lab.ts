import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { issueLabCertificates, planLab, type LabMember, type LabOptions } from "../../src/cli/lab.js";
import { LabRunner } from "../../src/cli/lab-runner.js";
import { sipOptions } from "../../src/cli/commands/check.js";
import { startThor, type ThorProcess } from "./processes.js";
import { waitFor } from "./wait-for.js";

/**
 * How long a lab's members may take to start and form the network (or a
 * restarted member to come back). Each member spends about a second of CPU
 * starting (loading its modules); a lab starts up to a dozen at once, and on a loaded 2-core machine (another
 * suite beside this one) that alone took over 30 s. Not a speed bound: the
 * runner's timeout is the real limit.
 */
export const FORMATION_MS = 120_000;

/**
 * A real network of `thor` processes on loopback for end-to-end tests: the
 * shared lab runner (src/cli/lab-runner.ts) with members started as
 * {@link ThorProcess} (JSON log lines collected, killed by PID), in a
 * temporary directory removed on stop.
 */
export class Lab extends LabRunner<ThorProcess> {
  static async create(opts: Omit<LabOptions, "dir">): Promise<Lab> {
    const dir = mkdtempSync(join(tmpdir(), "thor-lab-"));
    const lab = new Lab(planLab({ ...opts, dir, fast: opts.fast ?? true }), (m, args) => startThor(m.name, args));
    await issueLabCertificates(lab.plan);
    return lab;
  }

  /** Start every member (event servers first, `extraArgs` added to some) and the observer; wait for a full snapshot. */
  async startAll(timeoutMs = FORMATION_MS, extraArgs: (m: LabMember) => string[] = () => []): Promise<void> {
    this.launch(extraArgs, ["eventserver", "manager", "database", "node"]);
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

  /**
   * Wait until every running node with a public SIP listener (or only those
   * named) answers SIP OPTIONS with 200. A node answers 503 "starting" until
   * the snapshot that lists it has reached it, and on a loaded host that can
   * come well after the observer saw the same snapshot. Each probe leaves a
   * server transaction on the node until Timer J (64 × T1): a node that is
   * to be drained soon after is better not probed.
   */
  async sipReady(names?: readonly string[], timeoutMs = FORMATION_MS): Promise<void> {
    const nodes = this.of("node").filter((m) => m.ports["sip_udp"] !== undefined && this.procs.get(m.name)?.alive === true && (names === undefined || names.includes(m.name)));
    await Promise.all(
      nodes.map((m) =>
        waitFor(async () => (await sipOptions(m.ip, m.ports["sip_udp"]!, 1000).catch(() => undefined))?.status === 200, { timeoutMs, intervalMs: 100, message: `${m.name} answers SIP OPTIONS with 200` }),
      ),
    );
  }

  override async stop(): Promise<void> {
    await super.stop("kill");
    // THOR_TEST_LOGS=<dir>: every member's log lines kept there (<dir>/<lab dir name>/<member>.jsonl), to read after a failure.
    const keep = process.env["THOR_TEST_LOGS"];
    if (keep) {
      const to = join(keep, basename(this.plan.dir));
      mkdirSync(to, { recursive: true });
      for (const p of this.procs.values()) writeFileSync(join(to, `${p.name}.jsonl`), p.logs.map((l) => JSON.stringify(l)).join("\n") + "\n");
    }
    rmSync(this.plan.dir, { recursive: true, force: true });
  }
}
