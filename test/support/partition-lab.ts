/**
 * A lab network for partition tests: three event servers, two managers and
 * three sip_proxy nodes (fast timings), each in its own network namespace
 * ({@link Netns}), plus a `phone` namespace for SIPp. Members are observed
 * through their JSON logs (the test process is outside the namespaces).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DEMO_ACCOUNTS, issueLabCertificates, planLab } from "../../src/cli/lab.js";
import { LabRunner } from "../../src/cli/lab-runner.js";
import { Netns } from "./netns.js";
import { startThor, type LogLine, type ThorProcess } from "./processes.js";
import { describeRun, sipp, stopSipp, type SippRun } from "./sipp.js";
import { waitFor } from "./wait-for.js";

export const NODES = ["node1", "node2", "node3"] as const;
export const EVENT_SERVERS = ["es1", "es2", "es3"] as const;

export class PartitionLab {
  private phonePort = 5100;

  private constructor(
    readonly net: Netns,
    readonly lab: LabRunner<ThorProcess>,
    readonly phoneIp: string,
  ) {}

  /** Namespaces `thorp<slot>-<tag>-*` on `<subnet>.0/24` (a /24 of the slot's private /16: `privateNet(n)`). */
  static async create(tag: string, subnet: string): Promise<PartitionLab> {
    const dir = mkdtempSync(join(tmpdir(), "thor-partition-"));
    const plan = planLab({ dir, subnet, eventServers: 3, managers: 2, nodes: [["sip_proxy"], ["sip_proxy"], ["sip_proxy"]], fast: true });
    await issueLabCertificates(plan);
    const net = new Netns(tag);
    try {
      for (const m of plan.members) if (m.kind === "eventserver" || m.kind === "manager" || m.kind === "node") net.add(m.name, m.ip);
      net.add("phone", `${subnet}.200`);
    } catch (err) {
      net.destroy();
      throw err;
    }
    const lab = new LabRunner<ThorProcess>(plan, (m, args) => startThor(m.name, args, {}, net.ns(m.name)));
    return new PartitionLab(net, lab, `${subnet}.200`);
  }

  proc(name: string): ThorProcess {
    return this.lab.proc(name);
  }

  ip(name: string): string {
    return this.lab.member(name).ip;
  }

  /** Start event servers, managers and nodes; wait until every node applied a membership of all three. */
  async start(): Promise<void> {
    this.lab.launch(() => [], ["eventserver", "manager", "node"]);
    for (const n of NODES) await this.proc(n).waitForLog((l) => applied(l) && l["members"] === NODES.length, 30_000, "a membership of all nodes");
  }

  /** Index of the next log line of `name`: "from now on". */
  mark(name: string): number {
    return this.proc(name).logs.length;
  }

  /** Log lines of `name` since `from` that match `pred`. */
  since(name: string, from: number, pred: (l: LogLine) => boolean): LogLine[] {
    return this.proc(name).logs.slice(from).filter(pred);
  }

  /** Wait for a line of `name` after `from` matching `pred`. */
  async waitSince(name: string, from: number, pred: (l: LogLine) => boolean, what: string, timeoutMs = 20_000): Promise<LogLine> {
    const p = this.proc(name);
    return waitFor(
      () => {
        if (!p.alive) throw new Error(p.describe());
        return p.logs.slice(from).find(pred);
      },
      { timeoutMs, message: `${name}: ${what}` },
    );
  }

  /** REGISTER `user` from the phone namespace through `node` (SIPp over UDP); resolves with SIPp's run. */
  register(node: string, user: string, expect: "ok" | "unavailable"): Promise<SippRun> {
    const account = DEMO_ACCOUNTS.find((a) => a.username === user);
    if (!account) throw new Error(`no demo account ${user}`);
    const port = this.phonePort++;
    const keys = { user, domain: this.lab.plan.sipDomain, contact: `sip:${user}@${this.phoneIp}:${port}`, expires: "300", ...(expect === "ok" ? { pass: account.password } : {}) };
    return sipp({ scenario: expect === "ok" ? "register.xml" : "register-unavailable.xml", netns: this.net.ns("phone"), localIp: this.phoneIp, localPort: port, remote: `${this.ip(node)}:5060`, keys, timeoutS: 10 }).done;
  }

  /** Like {@link register}, retried until SIPp succeeds (a state reached by conditions, not a fixed sleep). */
  async registerUntil(node: string, user: string, expect: "ok" | "unavailable", timeoutMs = 20_000): Promise<void> {
    let last: SippRun | undefined;
    await waitFor(
      async () => {
        last = await this.register(node, user, expect);
        return last.code === 0;
      },
      { timeoutMs, intervalMs: 200, message: `REGISTER of ${user} through ${node}: ${expect}${last ? `\n${describeRun("sipp", last)}` : ""}` },
    ).catch((err: unknown) => {
      throw new Error(`${err instanceof Error ? err.message : String(err)}${last ? `\n${describeRun("sipp", last)}` : ""}`);
    });
  }

  /** Kill every member and SIPp by PID, delete the namespaces and the lab directory. */
  async stop(): Promise<void> {
    try {
      await stopSipp();
      await this.lab.stop("kill");
    } finally {
      this.net.destroy();
      rmSync(this.lab.plan.dir, { recursive: true, force: true });
    }
  }
}

/** A node's log line for an applied membership change. */
export function applied(l: LogLine): boolean {
  return l.msg === "membership applied";
}
