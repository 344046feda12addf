/**
 * SIP throughput at each server's own limit, thor against Kamailio, on this
 * machine in the same run (SIPp over UDP):
 *   - REGISTER with digest authentication (401, then REGISTER with MD5
 *     qop=auth credentials), SUBSCRIBERS provisioned subscribers;
 *   - record-routed calls with INVITE digest (INVITE, 407, ACK, INVITE, 100,
 *     180, 200, ACK, BYE, 200) from one SIPp UAC to UASES registered SIPp
 *     UASes.
 *
 * Each server's limit is found by stepping the offered rate (STEP_S seconds
 * per step, default 15): growing by half until a rate fails (two steps at it
 * fail: one neighbour's burst on a shared machine does not end the search),
 * then bisecting twice. SIPp gets 4 MiB socket buffers like the servers. A
 * step is sustained when at least 99.9% of the offered scenarios
 * succeed, at most 1% of the messages SIPp sent were retransmissions, and the
 * achieved rate is at least 95% of the offered one: the same criterion for
 * both servers. Where the machine has two or more cores the server is pinned
 * to core 0 and SIPp (caller and callees) to core 1, and the load generator's
 * CPU is reported with each step: a step in which SIPp used more than 90% of
 * its core is marked, since it then measures SIPp rather than the server.
 *
 * Kamailio 5.6 (Debian package) runs with KAM_CHILDREN UDP workers (default
 * 2) on the same core, credentials in memory (an htable of HA1 values loaded
 * at start, as thor holds them), in-memory usrloc and the same
 * 4 MiB receive buffer as thor. Also reported: server CPU microseconds per
 * registration and per call at the highest sustained step, memory (PSS) with
 * every subscriber registered (read 35 s after the fill, past Timer J), and
 * heap per binding measured in process.
 *
 * Knobs (environment): THOR_BENCH_STEP_S, THOR_BENCH_SUBSCRIBERS,
 * THOR_BENCH_KAM_CHILDREN, THOR_BENCH_KAMAILIO=0 (no Kamailio baseline),
 * THOR_BENCH_METRICS=0 (no metrics-on variant),
 * THOR_BENCH_NET (default 127.0.9), THOR_BENCH_NICE (both servers' niceness),
 * THOR_BENCH_BEFORE=/path/to/an/older/checkout (its bin/thor.js, already
 * built, runs beside this tree's and both are measured at this tree's
 * sustained rates in alternating steps: server CPU per registration and per
 * call, before against after, in the same run). A third thor with metrics
 * on (`--metrics-listen`, scraped every second) is compared the same way.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os, { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import v8 from "node:v8";
import vm from "node:vm";
import { parseMessage, Registrar, type SipRequest, type Flow } from "../src/sip/index.js";
import { sleep } from "../src/base/index.js";
import type { BenchResult } from "./types.js";
import { runSippStats, type SippStats } from "./sipp-run.js";
import { CpuSampler, cpuSeconds, longestWait, processTree, pssBytes, runQueueWait } from "./proc-stats.js";
import { heapAfterGc } from "./heap-after-gc.js";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const env = (k: string, d: number) => Number(process.env[k] ?? d);
const STEP_S = env("THOR_BENCH_STEP_S", 15);
const SUBSCRIBERS = env("THOR_BENCH_SUBSCRIBERS", 100_000);
const KAM_CHILDREN = env("THOR_BENCH_KAM_CHILDREN", 2);
const NET = process.env["THOR_BENCH_NET"] ?? "127.0.9";
const BEFORE = process.env["THOR_BENCH_BEFORE"];
/** THOR_BENCH_KAMAILIO=0 skips the Kamailio baseline (a quick before/after of thor alone). */
const WITH_KAMAILIO = process.env["THOR_BENCH_KAMAILIO"] !== "0";
/** THOR_BENCH_METRICS=0 skips the metrics-on variant (a shorter run). */
const WITH_METRICS = process.env["THOR_BENCH_METRICS"] !== "0";
/** Callees: SIPp UASes, each registered as its own user on its own port. */
const UASES = 4;
const GROW = 1.5;
const MAX_STEPS = 16;
const BISECTIONS = 2;
const PINNED = os.cpus().length >= 2;
/**
 * THOR_BENCH_NICE=-10 runs both servers (thor and Kamailio alike) and SIPp at that
 * niceness (and the benchmark's scheduler autogroup, which holds them all),
 * so that neighbours on a shared machine take less of their cores (as root
 * only; 0, the default, changes nothing).
 */
const NICE = process.env["THOR_BENCH_NICE"] ?? "0";
/** SIPp's own socket buffers as large as the servers' (its default, 64 KiB, drops answers in bursts at a few thousand per second). */
const SIPP_BUFFERS = ["-buff_size", String(4 * 1024 * 1024)];
const SERVER_CORE = [...(NICE !== "0" ? ["nice", "-n", NICE] : []), ...(PINNED ? ["taskset", "-c", "0"] : [])];
const LOAD_CORE = [...(NICE !== "0" ? ["nice", "-n", NICE] : []), ...(PINNED ? ["taskset", "-c", "1"] : [])];

type Workload = "register" | "calls";
/** Messages the SIPp UAC sends per scenario, for the retransmission ratio. */
const SENT: Record<Workload, number> = { register: 2, calls: 5 };
const START: Record<Workload, number> = { register: 1000, calls: 200 };

interface Server {
  name: string;
  target: string;
  /** Third octet offset of this server's SIPp addresses. */
  ipBase: number;
  proc: ChildProcess;
  pids(): number[];
  /** A Node.js server: where its inspector opens on SIGUSR1 (its live heap is read through it). */
  inspector?: string;
}

interface Step {
  rate: number;
  stats: SippStats;
  serverCpu: number;
  loadCpu: number;
  /** Share of the step one of the server's processes spent runnable but waiting for a CPU (neighbours on its core). */
  starved: number;
  sustained: boolean;
  why: string;
}

const ip = (n: number) => `${NET}.${n}`;

async function waitOptions(target: string, cwd: string): Promise<void> {
  for (let i = 0; i < 100; i++) {
    const r = await runSippStats(["-sf", join(ROOT, "bench/sipp/ping.xml"), "-m", "1", "-i", ip(9), "-p", String(6000 + i), "-key", "domain", "example.test", "-timeout", "2s", target], cwd);
    if (r.ok === 1) return;
    await sleep(300);
  }
  throw new Error(`${target} did not come up`);
}

/**
 * A failed step in which the server waited this share of the step for a CPU
 * (runnable, its core taken by other processes) says nothing about the
 * server: it is repeated (STARVED_RETRIES times at most).
 */
const STARVED = 0.05;
const STARVED_RETRIES = 2;

function judge(w: Workload, rate: number, s: SippStats, loadCpu: number, starved: number): { sustained: boolean; why: string } {
  const offered = Math.round(rate * STEP_S);
  const okShare = s.ok / offered;
  const retrans = s.retransmissions / Math.max(1, s.ok * SENT[w]);
  const achieved = s.ok / Math.max(s.seconds, STEP_S) / rate;
  const why: string[] = [];
  if (okShare < 0.999) why.push(`${(100 * (1 - okShare)).toFixed(2)}% failed`);
  if (retrans > 0.01) why.push(`${(100 * retrans).toFixed(1)}% retransmitted`);
  if (achieved < 0.95) why.push(`${(100 * achieved).toFixed(0)}% of the offered rate`);
  if (loadCpu / Math.max(s.seconds, 1) > 0.9) why.push("SIPp saturated its core");
  const sustained = why.length === 0 || (why.length === 1 && why[0] === "SIPp saturated its core");
  // Said of a failed step only: it is then run again (see STARVED).
  if (!sustained && starved > STARVED) why.push(`server waited ${(100 * starved).toFixed(0)}% of the step for a CPU`);
  return { sustained, why: why.join(", ") };
}

/** One step at a fixed offered rate. */
async function step(server: Server, w: Workload, rate: number, cwd: string, callees: readonly ChildProcess[]): Promise<Step> {
  const count = Math.round(rate * STEP_S);
  const sampler = new CpuSampler();
  for (const c of callees) if (c.pid !== undefined) sampler.watch(c.pid);
  const pids = server.pids();
  const cpu0 = cpuSeconds(pids);
  const wait0 = runQueueWait(pids);
  const args = w === "register"
    ? ["-sf", join(ROOT, "bench/sipp/register-load.xml"), "-inf", join(cwd, "users.csv"), "-key", "domain", "example.test", "-i", ip(server.ipBase), "-p", "5061"]
    : ["-sf", join(ROOT, "bench/sipp/uac-load.xml"), "-inf", join(cwd, "callees.csv"), "-i", ip(server.ipBase + 2), "-p", "5080", "-au", "u0", "-ap", "u0-secret", "-key", "user", "u0", "-key", "domain", "example.test"];
  const stats = await runSippStats([...args, ...SIPP_BUFFERS, "-r", String(rate), "-rp", "1000", "-m", String(count), "-timeout", `${STEP_S + 30}s`, server.target], cwd, {
    prefix: LOAD_CORE,
    limitMs: (STEP_S + 40) * 1000,
    onSpawn: (pid) => sampler.watch(pid),
  });
  const serverCpu = cpuSeconds(pids) - cpu0;
  const starved = longestWait(wait0, runQueueWait(pids)) / Math.max(stats.seconds, 1);
  const loadCpu = sampler.stop();
  const verdict = judge(w, rate, stats, loadCpu, starved);
  // Let retransmission tails and timers of this step die out before the next one.
  await sleep(2000);
  return { rate, stats, serverCpu, loadCpu, starved, ...verdict };
}

function debugStep(server: Server, w: Workload, r: number, s: Step): void {
  if (process.env["THOR_BENCH_DEBUG"]) process.stderr.write(`${server.name} ${w} ${r}/s: ${s.stats.ok} ok, ${s.stats.failed} failed, ${s.stats.retransmissions} retrans, server ${(100 * s.serverCpu / s.stats.seconds).toFixed(0)}% CPU (waited ${(100 * s.starved).toFixed(0)}% for one), SIPp ${(100 * s.loadCpu / s.stats.seconds).toFixed(0)}%: ${s.sustained ? "sustained" : s.why}\n`);
}

/** Steps up by GROW until a rate fails (twice in a row), then bisects; the highest sustained step and all steps. */
async function findLimit(server: Server, w: Workload, cwd: string, callees: readonly ChildProcess[]): Promise<{ best?: Step; failed?: Step; steps: Step[] }> {
  const steps: Step[] = [];
  let best: Step | undefined;
  let failed: Step | undefined;
  let rate = START[w];
  const once = async (r: number) => {
    let s = await step(server, w, r, cwd, callees);
    steps.push(s);
    debugStep(server, w, r, s);
    // A step lost to neighbours (the server runnable but off its core) is run again.
    for (let i = 0; i < STARVED_RETRIES && !s.sustained && s.starved > STARVED && steps.length < MAX_STEPS; i++) {
      s = await step(server, w, r, cwd, callees);
      steps.push(s);
      debugStep(server, w, r, s);
    }
    return s;
  };
  const run = async (r: number) => {
    // On a shared machine one step can fail for a neighbour's burst: a rate fails when it fails twice.
    let s = await once(r);
    if (!s.sustained) s = await once(r);
    if (s.sustained) best = s;
    else failed = s;
    return s.sustained;
  };
  while (steps.length < MAX_STEPS && (await run(rate))) rate = Math.round(rate * GROW);
  if (!best) {
    // Even the first step failed: step down.
    for (let r = Math.round(rate / 2); !best && r >= 25 && steps.length < MAX_STEPS; r = Math.round(r / 2)) await run(r);
  }
  for (let i = 0; i < BISECTIONS && best && failed && steps.length < MAX_STEPS; i++) {
    const mid = Math.round((best.rate + failed.rate) / 2);
    if (mid <= best.rate || mid >= failed.rate) break;
    await run(mid);
  }
  return { best, failed, steps };
}

async function registerCallees(server: Server, cwd: string): Promise<ChildProcess[]> {
  const uases: ChildProcess[] = [];
  for (let i = 1; i <= UASES; i++) {
    const port = 5070 + 2 * i;
    const reg = await runSippStats(["-sf", join(ROOT, "test/sip/scenarios/register.xml"), "-i", ip(server.ipBase + 1), "-p", String(port + 1), "-m", "1", "-au", `u${i}`, "-ap", `u${i}-secret`, "-key", "user", `u${i}`, "-key", "domain", "example.test", "-key", "contact", `sip:u${i}@${ip(server.ipBase + 1)}:${port}`, "-key", "expires", "3600", server.target], cwd);
    if (reg.ok !== 1) throw new Error(`${server.name}: registration of callee u${i} failed`);
    uases.push(spawn(LOAD_CORE[0] ?? "sipp", [...LOAD_CORE.slice(1), ...(LOAD_CORE.length ? ["sipp"] : []), "-sf", join(ROOT, "test/sip/scenarios/uas.xml"), "-i", ip(server.ipBase + 1), "-p", String(port), ...SIPP_BUFFERS, "-nostdin", "-timeout", "3600s"], { cwd, stdio: "ignore" }));
  }
  await sleep(500);
  return uases;
}

interface Filled {
  /** PSS as found 35 s after the fill. */
  pss: number;
  /** Node.js servers: PSS and live heap after a full garbage collection. */
  afterGc?: { pss: number; heap: number };
  ok: number;
}

/** Registers every subscriber once (below the sustained rate) and reads the server's PSS once the fill's transactions are gone. */
async function fillAndMeasure(server: Server, rate: number, cwd: string): Promise<Filled> {
  const stats = await runSippStats(["-sf", join(ROOT, "bench/sipp/register-load.xml"), "-inf", join(cwd, "users.csv"), "-key", "domain", "example.test", "-i", ip(server.ipBase), "-p", "5062", ...SIPP_BUFFERS, "-r", String(Math.max(100, Math.round(rate * 0.7))), "-rp", "1000", "-m", String(SUBSCRIBERS), "-timeout", "600s", server.target], cwd, { prefix: LOAD_CORE, limitMs: 620_000 });
  // Past Timer J (32 s on UDP): what is left is the registrations, not the transactions of the fill.
  await sleep(35_000);
  const pss = pssBytes(server.pids());
  const pid = server.proc.pid;
  if (!server.inspector || pid === undefined) return { pss, ok: stats.ok };
  const heap = await heapAfterGc(pid, server.inspector);
  // V8 returns freed pages to the system after a collection, not at once.
  await sleep(5_000);
  return { pss, afterGc: { pss: pssBytes(server.pids()), heap: heap.used }, ok: stats.ok };
}

function bindingMemory(): number {
  v8.setFlagsFromString("--expose-gc");
  const gc = vm.runInNewContext("gc") as () => void;
  const flow: Flow = { id: "udp:x", transport: "udp", local: { address: "10.0.0.1", port: 5060 }, remote: { address: "192.0.2.1", port: 5060 }, reliable: false, send: () => true, closed: false };
  const reg = new Registrar();
  const n = 100_000;
  gc();
  const before = process.memoryUsage().heapUsed;
  for (let i = 0; i < n; i++) {
    const r = parseMessage(Buffer.from(`REGISTER sip:example.test SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK${i}\r\nFrom: <sip:user${i}@example.test>;tag=${i}\r\nTo: <sip:user${i}@example.test>\r\nCall-ID: ${i}-reg@192.0.2.1\r\nCSeq: 1 REGISTER\r\nContact: <sip:user${i}@192.0.2.${i % 250}:5060;transport=udp>;expires=3600\r\nContent-Length: 0\r\n\r\n`));
    if (!r.ok) throw new Error(r.error.reason);
    reg.register(r.message as SipRequest, flow, `user${i}@example.test`, 0);
  }
  gc();
  const after = process.memoryUsage().heapUsed;
  if (reg.store.size !== n) throw new Error("binding count mismatch");
  return (after - before) / n;
}

function writeFixtures(dir: string): void {
  const user = (i: number) => `u${i}`;
  const lines: string[] = [];
  const toml: string[] = [];
  const kam: string[] = [];
  for (let i = 0; i < SUBSCRIBERS; i++) {
    lines.push(`${user(i)};[authentication username=${user(i)} password=${user(i)}-secret]`);
    toml.push(`[[users]]\nusername = "${user(i)}"\npassword = "${user(i)}-secret"\n`);
    // htable rows: key_name, key_type 0 (plain), value_type 0 (string), the HA1, no expiry.
    kam.push(`${i + 1}:${user(i)}:0:0:${createHash("md5").update(`${user(i)}:example.test:${user(i)}-secret`).digest("hex")}:0`);
  }
  writeFileSync(join(dir, "users.toml"), toml.join("\n"));
  writeFileSync(join(dir, "users.csv"), "SEQUENTIAL\n" + lines.join("\n") + "\n");
  writeFileSync(join(dir, "callees.csv"), "SEQUENTIAL\n" + Array.from({ length: UASES }, (_, i) => user(i + 1)).join("\n") + "\n");
  // db_text reads every file of its directory as a table: keep it apart.
  const db = join(dir, "db");
  mkdirSync(db);
  writeFileSync(join(db, "version"), "table_name(str) table_version(int)\ncredentials:2\n");
  writeFileSync(join(db, "credentials"), "id(int,auto) key_name(str) key_type(int) value_type(int) key_value(str) expires(int)\n" + kam.join("\n") + "\n");
  const cfg = readFileSync(join(ROOT, "bench/kamailio/kamailio.cfg.tmpl"), "utf8").replaceAll("@LISTEN@", `${ip(2)}:5060`).replaceAll("@DB@", db).replaceAll("@CHILDREN@", String(KAM_CHILDREN));
  writeFileSync(join(dir, "kamailio.cfg"), cfg);
}

function startThor(name: string, bin: string, host: number, ipBase: number, dir: string, extra: readonly string[] = []): Server {
  const inspector = `${ip(host)}:9229`;
  const args = [process.execPath, `--inspect-port=${inspector}`, bin, "sip", "--domain", "example.test", "--listen", `udp:${ip(host)}:5060`, "--users", join(dir, "users.toml"), "--algorithms", "MD5", "--rate", "10000000", "--log-level", "warn", "--log-format", "json", ...extra];
  const log = openSync(join(dir, `${name.replace(/\W+/g, "-")}.log`), "w");
  const proc = spawn(SERVER_CORE[0] ?? args[0]!, [...SERVER_CORE.slice(1), ...(SERVER_CORE.length ? args : args.slice(1))], { stdio: ["ignore", log, log] });
  return { name, target: `${ip(host)}:5060`, ipBase, proc, pids: () => (proc.pid ? [proc.pid] : []), inspector };
}

function startKamailio(dir: string): Server {
  const log = openSync(join(dir, "kamailio.log"), "w");
  const args = ["kamailio", "-f", join(dir, "kamailio.cfg"), "-DD", "-E", "-w", dir, "-m", "512", "-M", "32"];
  const proc = spawn(SERVER_CORE[0] ?? args[0]!, [...SERVER_CORE.slice(1), ...(SERVER_CORE.length ? args : args.slice(1))], { stdio: ["ignore", log, log] });
  return { name: `Kamailio 5.6, ${KAM_CHILDREN} workers`, target: `${ip(2)}:5060`, ipBase: 20, proc, pids: () => (proc.pid ? processTree(proc.pid) : []) };
}

const perSecond = (s?: Step) => (s ? s.stats.ok / Math.max(s.stats.seconds, STEP_S) : 0);
const usPer = (s?: Step) => (s && s.stats.ok > 0 ? (s.serverCpu / s.stats.ok) * 1e6 : 0);
function describe(r: { best?: Step; failed?: Step; steps: Step[] }): string {
  const b = r.best;
  const head = b ? `sustained ${b.rate}/s at ${(100 * b.serverCpu / b.stats.seconds).toFixed(0)}% CPU (SIPp ${(100 * b.loadCpu / b.stats.seconds).toFixed(0)}%)` : "no sustained step";
  const fail = r.failed ? `; fails at ${r.failed.rate}/s (${r.failed.why})` : "; no failing step reached";
  return `${head}${fail}; steps ${r.steps.map((s) => `${s.rate}${s.sustained ? "✓" : "✗"}`).join(" ")}`;
}

interface Variant {
  server: Server;
  /** Also fill it with every subscriber and compare its PSS with this tree's. */
  memory?: boolean;
  /** Runs beside the variant while it is measured (e.g. a metrics scraper); returns a stop function giving a note. */
  companion?: () => () => string;
}

/**
 * A variant of thor (an older tree, metrics on) measured against thor at
 * thor's own sustained rates, in alternating steps (thor, variant, thor,
 * variant): server CPU per scenario tells a difference of a few percent that
 * a limit search by halves cannot.
 */
async function compareAt(thor: Server, v: Variant, w: Workload, rate: number, cwd: string): Promise<{ ours: Step[]; theirs: Step[]; note: string }> {
  const ours: Step[] = [];
  const theirs: Step[] = [];
  const uases = w === "calls" ? [await registerCallees(thor, cwd), await registerCallees(v.server, cwd)] : [[], []];
  const stop = v.companion?.();
  try {
    for (let i = 0; i < 2; i++) {
      ours.push(await step(thor, w, rate, cwd, uases[0]!));
      theirs.push(await step(v.server, w, rate, cwd, uases[1]!));
    }
  } finally {
    for (const u of uases.flat()) u.kill("SIGKILL");
  }
  return { ours, theirs, note: stop ? stop() : "" };
}

const meanUs = (steps: readonly Step[]) => steps.reduce((a, s) => a + usPer(s), 0) / Math.max(1, steps.length);
const verdicts = (steps: readonly Step[]) => steps.map((s) => (s.sustained ? "✓" : `✗ (${s.why})`)).join(" ");

export async function run(): Promise<BenchResult[]> {
  const dir = mkdtempSync(join(tmpdir(), "thor-bench-sip-"));
  let groupNice: string | undefined;
  if (NICE !== "0") {
    // With autogroups (Linux's default for sessions) a task's niceness only counts inside its
    // session's group; the group's own niceness is what neighbours' sessions are weighed against.
    // Servers and SIPp are in this process's group.
    try {
      groupNice = /nice (-?\d+)/.exec(readFileSync("/proc/self/autogroup", "utf8"))?.[1];
      writeFileSync("/proc/self/autogroup", NICE);
    } catch {
      // no autogroups, or not allowed: the per-process niceness alone
    }
  }
  const servers: Server[] = [];
  const variants: Array<{ label: string; v: Variant }> = [];
  const callees: ChildProcess[] = [];
  try {
    writeFixtures(dir);
    const thor = startThor("thor", join(ROOT, "bin/thor.js"), 1, 10, dir);
    const kam = WITH_KAMAILIO ? startKamailio(dir) : undefined;
    servers.push(thor, ...(kam ? [kam] : []));
    if (BEFORE) {
      const bin = join(BEFORE, "bin/thor.js");
      if (!existsSync(bin)) throw new Error(`THOR_BENCH_BEFORE: no ${bin}`);
      const before = startThor("thor before", bin, 3, 30, dir);
      servers.push(before);
      variants.push({ label: "the THOR_BENCH_BEFORE tree", v: { server: before, memory: true } });
    }
    // The cost of metrics (issue 13: at most 3 %): the same tree with --metrics-listen,
    // every diagnostics channel subscribed, scraped once a second while it is measured.
    if (WITH_METRICS) {
      const metricsAt = `${ip(4)}:9100`;
      const withMetrics = startThor("thor, metrics on", join(ROOT, "bin/thor.js"), 4, 40, dir, ["--metrics-listen", metricsAt]);
      servers.push(withMetrics);
      variants.push({
        label: "metrics on (--metrics-listen, scraped every second)",
        v: {
          server: withMetrics,
          companion: () => {
            let scrapes = 0;
            const timer = setInterval(() => void fetch(`http://${metricsAt}/metrics`).then((r) => r.text()).then(() => scrapes++, () => undefined), 1000);
            return () => {
              clearInterval(timer);
              return `${scrapes} scrapes`;
            };
          },
        },
      });
    }
    for (const s of servers) await waitOptions(s.target, dir);
    const limits = new Map<Server, { register: Awaited<ReturnType<typeof findLimit>>; calls: Awaited<ReturnType<typeof findLimit>>; memory: Filled }>();
    for (const s of kam ? [thor, kam] : [thor]) {
      const register = await findLimit(s, "register", dir, []);
      const memory = await fillAndMeasure(s, register.best?.rate ?? 500, dir);
      const uases = await registerCallees(s, dir);
      callees.push(...uases);
      const calls = await findLimit(s, "calls", dir, uases);
      for (const u of uases) u.kill("SIGKILL");
      limits.set(s, { register, calls, memory });
    }
    kam?.proc.kill("SIGTERM");
    const ours = limits.get(thor)!;
    const theirs = kam ? limits.get(kam)! : undefined;
    const base = kam?.name ?? "";
    const baseline = (value: (l: NonNullable<typeof theirs>) => number) => (theirs ? { baseline: { name: base, value: value(theirs) } } : {});
    const mb = (b: number) => b / 2 ** 20;
    const pin = PINNED ? "server on core 0, SIPp on core 1" : "unpinned (one core)";
    const results: BenchResult[] = [
      { name: `REGISTER with digest (MD5 qop=auth, UDP, ${SUBSCRIBERS.toLocaleString("en-US")} subscribers): sustained limit, ${STEP_S} s steps, ${pin}`, value: perSecond(ours.register.best), unit: "registrations/s", ...baseline((t) => perSecond(t.register.best)), note: `thor ${describe(ours.register)}.${theirs ? ` Kamailio ${describe(theirs.register)}` : ""}` },
      { name: "server CPU per registration at the sustained limit", value: usPer(ours.register.best), unit: "µs", ...baseline((t) => usPer(t.register.best)), note: "lower is better" },
      { name: `record-routed calls with INVITE digest (UDP, ${UASES} callee UASes): sustained limit, ${STEP_S} s steps, ${pin}`, value: perSecond(ours.calls.best), unit: "calls/s", ...baseline((t) => perSecond(t.calls.best)), note: `thor ${describe(ours.calls)}.${theirs ? ` Kamailio ${describe(theirs.calls)}` : ""}` },
      { name: "server CPU per call at the sustained limit", value: usPer(ours.calls.best), unit: "µs", ...baseline((t) => usPer(t.calls.best)), note: "lower is better" },
      { name: `memory (PSS) with ${SUBSCRIBERS.toLocaleString("en-US")} subscribers registered`, value: mb(ours.memory.pss), unit: "MB", ...baseline((t) => mb(t.memory.pss)), note: `lower is better; PSS summed over the server's processes, read 35 s after the fill (past Timer J), after the REGISTER steps: thor's is its heap's high-water mark; fill: thor ${ours.memory.ok.toLocaleString("en-US")} registered${theirs ? `, Kamailio ${theirs.memory.ok.toLocaleString("en-US")}` : ""}` },
      ...(ours.memory.afterGc
        ? [
            { name: `memory (PSS) with ${SUBSCRIBERS.toLocaleString("en-US")} subscribers registered, thor after a full GC`, value: mb(ours.memory.afterGc.pss), unit: "MB", ...baseline((t) => mb(t.memory.pss)), note: "lower is better; two collections through the inspector, PSS read 5 s later (what thor holds, not its high-water mark)" },
            { name: "thor's live heap with them, after a full GC", value: mb(ours.memory.afterGc.heap), unit: "MB", note: "Runtime.getHeapUsage after the collections" },
          ]
        : []),
      { name: "heap per registered binding at 100k bindings", value: bindingMemory(), unit: "bytes", note: "location store after 100k REGISTERs, measured in process after GC" },
    ];
    for (const { label, v } of variants) {
      for (const w of ["register", "calls"] as const) {
        const rate = ours[w].best?.rate;
        if (rate === undefined) continue;
        const c = await compareAt(thor, v, w, rate, dir);
        results.push({ name: `server CPU per ${w === "register" ? "registration" : "call"} at ${rate}/s: this tree against ${label}`, value: meanUs(c.ours), unit: "µs", baseline: { name: v.server.name, value: meanUs(c.theirs) }, note: `lower is better; alternating steps, this tree ${verdicts(c.ours)}, ${v.server.name} ${verdicts(c.theirs)}${c.note ? `; ${c.note}` : ""}` });
      }
      if (v.memory) {
        const theirsFilled = await fillAndMeasure(v.server, ours.register.best?.rate ?? 500, dir);
        results.push({ name: `memory (PSS) with ${SUBSCRIBERS.toLocaleString("en-US")} subscribers registered: this tree against ${label}`, value: mb(ours.memory.pss), unit: "MB", baseline: { name: v.server.name, value: mb(theirsFilled.pss) }, note: `lower is better; ${theirsFilled.ok.toLocaleString("en-US")} registrations in its fill` });
      }
    }
    return results;
  } finally {
    for (const c of callees) c.kill("SIGKILL");
    for (const s of servers) s.proc.kill("SIGKILL");
    // The group is the whole session's (the shell that started the benchmark too): give it back its niceness.
    if (groupNice !== undefined) writeFileSync("/proc/self/autogroup", groupNice);
    if (process.env["THOR_BENCH_DEBUG"]) process.stderr.write(`kept ${dir}\n`);
    else rmSync(dir, { recursive: true, force: true });
  }
}
