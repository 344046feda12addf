/**
 * The distributed SIP service driven by SIPp over UDP, real `thor node`
 * processes on loopback (127.0.60.0/24), 1, 2 and 3 nodes in the same run:
 *   - REGISTER with digest auth: one SIPp per node, each registering its
 *     share of the users through "its" node (so with 2+ nodes about half of
 *     the REGISTERs are for AORs held elsewhere, and every change is
 *     replicated to a second node);
 *   - full authenticated calls: one SIPp caller per node, each calling users
 *     registered through the next node (every call crosses two nodes when
 *     there are two or more).
 * The baseline of each figure is the 1-node figure of the same run: the
 * ratio is the scale-out (3 nodes on a 2-core machine cannot reach 3×: the
 * nodes, SIPp and the event servers share the cores).
 * The registration of every user is the throughput figure (all out). The
 * CPU costs are measured afterwards, at fixed offered rates held for
 * THOR_BENCH_CLUSTER_SECONDS (15 s) each, the same for every cluster size:
 * re-registrations (THOR_BENCH_CLUSTER_REG_RATE, 300/s and 1500/s in all;
 * each changes the binding's expiry, so it is replicated) and calls
 * (THOR_BENCH_CLUSTER_CALL_RATE, 80/s and 300/s in all). The cost is user + system
 * CPU time summed over every thor process (nodes, event server, manager,
 * database announcer), less their idle use, per registration and per call;
 * the 2- and 3-node costs against the 1-node cost are the cluster's
 * overhead (issue 11, item 5: ≤ 1.5×). A fixed rate below every size's
 * limit compares the same work: an all-out burst of a few seconds would
 * compare loop turns of different fullness.
 * With 2 nodes, one more call phase sends every call into node1 for callees
 * registered through node2, so that the CPU of the caller's edge and of the
 * callee's edge show apart (both against the whole call on one node).
 * Then failover: SIGKILL of the node responsible for about a third of the
 * users, and an immediate round of calls to every one of them through
 * another node: how long until all were reached, and how many were lost.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { sleep } from "../src/base/index.js";
import { issueLabCertificates, planLab } from "../src/cli/lab.js";
import { RoleMap } from "../src/overlay/index.js";
import { startBenchLab, stopBenchLab, until, type BenchLab } from "./lab-run.js";
import { cpuSeconds } from "./proc-stats.js";
import { runSippStats, type SippStats } from "./sipp-run.js";
import type { BenchResult } from "./types.js";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const SCENARIOS = join(ROOT, "test/sip/scenarios");
const SUBNET = "127.0.60";
const DOMAIN = "example.com";
const USERS = 3000;
const envNumber = (name: string, fallback: number) => Number(process.env[name] ?? fallback);
const envRates = (name: string, fallback: string) => (process.env[name] ?? fallback).split(",").map(Number);
/**
 * Offered rates (in all, split evenly over the nodes) and how long each is
 * held: a light load, where every message wakes its process up on its own,
 * and one that fills the loop turns the way real traffic does. The i-th
 * REGISTER rate and the i-th call rate make the i-th level.
 */
const REG_RATES = envRates("THOR_BENCH_CLUSTER_REG_RATE", "300,1500");
const CALL_RATES = envRates("THOR_BENCH_CLUSTER_CALL_RATE", "80,300");
if (REG_RATES.length !== CALL_RATES.length) throw new Error("THOR_BENCH_CLUSTER_REG_RATE and _CALL_RATE list as many rates");
const SECONDS = envNumber("THOR_BENCH_CLUSTER_SECONDS", 15);
const users = Array.from({ length: USERS }, (_, i) => `b${i}`);
const pw = (u: string) => `${u}-pw`;

type Cluster = BenchLab;

async function cluster(n: number, dir: string): Promise<Cluster> {
  const plan = planLab({ dir, subnet: SUBNET, fast: true, eventServers: 1, managers: 1, nodes: Array.from({ length: n }, () => ["sip_proxy"]) });
  await issueLabCertificates(plan);
  writeFileSync(plan.usersFile, ["alice", ...users].map((u) => `[[users]]\nusername = "${u}"\npassword = "${u === "alice" ? "alice-secret" : pw(u)}"\n`).join("\n"));
  const lab = await startBenchLab(plan, (m) => (m.kind === "node" ? ["--sip-rate", "1000000", "--log-level", "warn"] : []));
  await until(() => (lab.view.snapshot?.members.length ?? 0) === n, 30_000, `${n} nodes up`);
  await sleep(1000); // every node applies the snapshot
  return lab;
}

const nodesOf = (c: Cluster) => c.plan.members.filter((m) => m.kind === "node");
const clientIp = (i: number) => `${SUBNET}.${200 + i}`;

function csv(dir: string, name: string, rows: string[]): string {
  const f = join(dir, name);
  writeFileSync(f, "SEQUENTIAL\n" + rows.join("\n") + "\n");
  return f;
}

/** The users registered through node i: every n-th one. */
const share = (n: number, i: number) => users.filter((_, k) => k % n === i);

/**
 * Each node's share of the users registered through it by a SIPp of its own:
 * once all out (`rate` undefined), or `count` in all at `rate` per second
 * in all (the list wraps: re-registrations).
 */
async function registerAll(c: Cluster, dir: string, offered?: { rate: number; count: number }): Promise<SippStats> {
  const nodes = nodesOf(c);
  const n = nodes.length;
  const runs = nodes.map((node, i) =>
    runSippStats(
      ["-sf", join(SCENARIOS, "register-csv.xml"), "-inf", csv(dir, `reg${i}.csv`, share(n, i).map((u) => `${u};[authentication username=${u} password=${pw(u)}]`)), "-key", "domain", DOMAIN, "-key", "contact_host", `${clientIp(i)}:6000`, "-key", "expires", "3600", "-i", clientIp(i), "-p", "5071", "-mp", "7000", "-m", String(offered ? Math.ceil(offered.count / n) : share(n, i).length), "-r", String(offered ? offered.rate / n : 100000), "-l", String(Math.ceil(400 / n)), "-timeout", "90s", `${node.ip}:5060`],
      dir,
    ),
  );
  return sum(await Promise.all(runs));
}

function uacScenario(dir: string): string {
  const f = join(dir, "uac-csv.xml");
  writeFileSync(f, readFileSync(join(SCENARIOS, "uac.xml"), "utf8").split("[callee]").join("[field0]"));
  return f;
}

/** Calls from a caller per node to `callees[i]` through node i, answered by a UAS per client address. */
async function callAll(c: Cluster, dir: string, callees: string[][], via: (i: number) => string, limit: number, offered?: { rate: number; count: number }): Promise<SippStats> {
  const nodes = nodesOf(c);
  const uasCount = new Map<number, number>();
  // The callees of caller i were registered through node (i+1) % n: their contact is clientIp((i+1) % n).
  callees.forEach((list, i) => uasCount.set((i + 1) % nodes.length, (uasCount.get((i + 1) % nodes.length) ?? 0) + list.length));
  // The UASes run until the callers are done (not `-m count`: SIPp counts a late retransmission as a call of its
  // own, stops early, and the last calls time out).
  const uasPids: number[] = [];
  const uas = [...uasCount].map(([k]) => runSippStats(["-sf", join(SCENARIOS, "uas.xml"), "-i", clientIp(k), "-p", "6000", "-timeout", "120s"], dir, { onSpawn: (pid) => uasPids.push(pid) }));
  await sleep(500);
  const scenario = uacScenario(dir);
  const callers = callees.filter((list) => list.length > 0).length;
  const uac = callees.map((list, i) =>
    list.length === 0
      ? Promise.resolve({ ok: 0, failed: 0, seconds: 0, retransmissions: 0 })
      : runSippStats(["-sf", scenario, "-inf", csv(dir, `call${i}.csv`, list), "-au", "alice", "-ap", "alice-secret", "-key", "user", "alice", "-key", "domain", DOMAIN, "-i", clientIp(10 + i), "-p", "5080", "-m", String(offered ? Math.ceil(offered.count / callers) : list.length), "-r", String(offered ? offered.rate / callers : 100000), "-l", String(limit), "-timeout", "120s", via(i)], dir),
  );
  const result = sum(await Promise.all(uac));
  for (const pid of uasPids) process.kill(pid, "SIGTERM");
  await Promise.all(uas);
  return result;
}

/** CPU seconds used so far by each thor process of the cluster, by name. */
const thorCpu = (c: Cluster) => new Map([...c.procs].map(([name, p]) => [name, cpuSeconds([p.pid])]));

type Costed = SippStats & { cpuUs: number; byProcess: Map<string, number> };

/**
 * `work`, and the thor CPU it cost (µs per successful operation), in all
 * and by process: the CPU the processes used meanwhile, less what they use
 * idle (timers, beacons, statistics) over the same time, measured for 3 s
 * just before.
 */
async function costed(c: Cluster, work: () => Promise<SippStats>): Promise<Costed> {
  const idle0 = thorCpu(c);
  const t0 = performance.now();
  await sleep(3000);
  const idle1 = thorCpu(c);
  const idleSeconds = (performance.now() - t0) / 1000;
  const t1 = performance.now();
  const stats = await work();
  const after = thorCpu(c);
  const seconds = (performance.now() - t1) / 1000;
  // Not clamped per process: a process's small negative figure is the noise of its idle estimate.
  const perOp = (busy: number) => (busy * 1e6) / Math.max(1, stats.ok);
  const byProcess = new Map<string, number>();
  for (const [name, cpu] of after) {
    const idlePerS = ((idle1.get(name) ?? 0) - (idle0.get(name) ?? 0)) / idleSeconds;
    byProcess.set(name, cpu - (idle1.get(name) ?? 0) - idlePerS * seconds);
  }
  const total = [...byProcess.values()].reduce((a, b) => a + b, 0);
  return { ...stats, cpuUs: perOp(Math.max(0, total)), byProcess: new Map([...byProcess].map(([name, busy]) => [name, perOp(busy)])) };
}

/** The per-operation CPU of each process (those `which` names), as text. */
const byProcess = (c: Costed, which: (name: string) => boolean = () => true) =>
  [...c.byProcess].filter(([name]) => which(name)).map(([name, us]) => `${name} ${Math.round(us)} µs`).join(", ");

function sum(stats: SippStats[]): SippStats {
  return { ok: stats.reduce((a, s) => a + s.ok, 0), failed: stats.reduce((a, s) => a + s.failed, 0), seconds: Math.max(...stats.map((s) => s.seconds)), retransmissions: stats.reduce((a, s) => a + s.retransmissions, 0) };
}

export async function run(): Promise<BenchResult[]> {
  const results: BenchResult[] = [];
  type Level = { regRate: number; callRate: number; reg: Costed; calls: Costed };
  const figures = new Map<number, { all: SippStats; levels: Level[] }>();
  const oneWay: Costed[] = [];
  // THOR_BENCH_CLUSTER_SIZES=2 (say) runs only those sizes, e.g. to profile one (THOR_BENCH_NODE_ARGS=--cpu-prof ...).
  const sizes = (process.env["THOR_BENCH_CLUSTER_SIZES"] ?? "1,2,3").split(",").map(Number);
  for (const n of sizes) {
    const dir = mkdtempSync(join(tmpdir(), "thor-bench-cluster-"));
    const c = await cluster(n, dir);
    try {
      const all = await registerAll(c, dir);
      // Caller i calls users registered through node (i+1) % n, entering at node i.
      const callees = nodesOf(c).map((_, i) => share(n, (i + 1) % n));
      const via = (i: number) => `${nodesOf(c)[i]!.ip}:5060`;
      const levels: Level[] = [];
      for (const [k, regRate] of REG_RATES.entries()) {
        const callRate = CALL_RATES[k]!;
        const reg = await costed(c, () => registerAll(c, dir, { rate: regRate, count: regRate * SECONDS }));
        const calls = await costed(c, () => callAll(c, dir, callees, via, Math.ceil(150 / n), { rate: callRate, count: callRate * SECONDS }));
        levels.push({ regRate, callRate, reg, calls });
        // Where a crossing call's cost is: every call enters at node1 and reaches a callee registered through node2.
        if (n === 2) oneWay.push(await costed(c, () => callAll(c, dir, [callees[0]!, []], via, 150, { rate: callRate, count: callRate * SECONDS })));
      }
      figures.set(n, { all, levels });
      if (n === 3) results.push(...(await failover(c, dir)));
    } finally {
      await stopBenchLab(c);
      rmSync(dir, { recursive: true, force: true });
    }
  }
  const one = figures.get(1) ?? figures.values().next().value!;
  for (const [n, f] of figures) {
    results.push({
      name: `REGISTER with digest, ${n} node${n > 1 ? "s" : ""} (UDP, one SIPp per node)`,
      value: f.all.ok / f.all.seconds,
      unit: "registrations/s",
      ...(n > 1 ? { baseline: { name: "1 node", value: one.all.ok / one.all.seconds } } : {}),
      note: `every user once, all out: ${f.all.ok} ok, ${f.all.failed} failed in ${f.all.seconds.toFixed(1)} s; replicas 2`,
    });
  }
  for (const [k] of REG_RATES.entries()) {
    const base = one.levels[k]!;
    for (const [n, f] of figures) {
      const level = f.levels[k]!;
      for (const [what, rate, stats, baseline, note] of [
        ["re-REGISTER with digest", level.regRate, level.reg, base.reg.cpuUs, "most REGISTERs reach a holder through another node, every change is replicated"],
        ["call with auth", level.callRate, level.calls, base.calls.cpuUs, "each call crosses the caller's and the callee's node, with a location lookup"],
      ] as const) {
        const held = `${stats.ok} ok, ${stats.failed} failed in ${stats.seconds.toFixed(1)} s`;
        results.push({
          name: `thor CPU per ${what} at ${rate}/s, ${n} node${n > 1 ? "s" : ""} (all processes summed)`,
          value: stats.cpuUs,
          unit: "µs",
          ...(n > 1 ? { baseline: { name: "1 node", value: baseline } } : {}),
          note: `${n > 1 ? note : "the same work on one node"}; offered for ${SECONDS} s: ${held}; by process: ${byProcess(stats)}`,
        });
      }
    }
    const split = oneWay[k];
    if (!split) continue;
    const held = `all entering at node1 for callees registered through node2, offered for ${SECONDS} s: ${split.ok} ok, ${split.failed} failed`;
    const others = byProcess(split, (name) => !name.startsWith("node"));
    for (const [node, role] of [["node1", "the caller's edge (digest, lookup, first proxy pass)"], ["node2", "the callee's edge (second proxy pass, to the callee's flow)"]] as const) {
      results.push({
        name: `thor CPU per call at ${role.split(" (")[0]} at ${base.callRate}/s, 2 nodes`,
        value: split.byProcess.get(node) ?? 0,
        unit: "µs",
        baseline: { name: "the whole call on 1 node", value: base.calls.cpuUs },
        note: `${role}; all processes ${Math.round(split.cpuUs)} µs (${others}); ${held}`,
      });
    }
  }
  return results;
}

async function failover(c: Cluster, dir: string): Promise<BenchResult[]> {
  const nodes = nodesOf(c);
  const map = RoleMap.fromMembers(c.view.snapshot!.members);
  const victim = nodes[2]!;
  const owned = users.filter((u) => map.lookup("sip_proxy", `${u}@${DOMAIN}`)?.id === victim.name && share(3, 2).indexOf(u) < 0);
  void c.proc(victim.name).stop("SIGKILL");
  const killed = performance.now();
  const removed = until(() => !c.view.snapshot?.members.some((m) => m.id === victim.name), 20_000, "victim removed");
  // Users registered through node1 and node2 (not the victim, whose flows died with it), called through node2.
  const byEdge = [0, 1].map((edge) => owned.filter((u) => share(3, edge).includes(u)));
  const stats = await callAll(c, dir, [byEdge[1]!, [], byEdge[0]!], () => `${nodes[1]!.ip}:5060`, 100);
  const reachedMs = performance.now() - killed;
  const removedMs = await removed;
  return [
    {
      name: "responsible node SIGKILL → all its users reached through other nodes",
      value: reachedMs,
      unit: "ms",
      baseline: { name: "member timeout (failure detection)", value: 2000 },
      note: `${owned.length} users called right after the kill: ${stats.ok} reached, ${stats.failed} lost; removed from the snapshot after ${Math.round(removedMs)} ms`,
    },
  ];
}
