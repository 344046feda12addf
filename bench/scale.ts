/**
 * Membership at scale (issue 16). Two parts:
 *
 * 1. An in-process model with the project's own encoders, feed and rings,
 *    for 100, 1,000 and 10,000 members (`THOR_BENCH_SCALE_MODEL=100,1000`
 *    to change): the full table on the wire, what one change costs each
 *    member on the wire, the steady-state egress per event server this
 *    implies, and what a member spends applying a series of joins and
 *    leaves (ring updates, two roles, 1000 points per member): CPU time,
 *    synchronous block, ring points written and GC pauses per change.
 * 2. A loopback run (127.0.180.0/24 for the servers, 127.0.181–189.x for the
 *    members' addresses): three real event servers and two managers (in this
 *    process, real TLS sockets) and `THOR_BENCH_SCALE_MEMBERS` (default
 *    1000) simulated members in `THOR_BENCH_SCALE_PROCS` (default 2) child
 *    processes (bench/scale-sim.ts), plus one full member in its own process
 *    whose CPU and event-loop block are measured. Measured: egress per event
 *    server in steady state (every byte the servers relay, divided by three)
 *    and per change, the time from a join or leave until every member's
 *    membership reflects it, the full member's CPU per change.
 *
 * `THOR_BENCH_SCALE_LOOPBACK=0` skips part 2.
 */
import { fork, type ChildProcess } from "node:child_process";
import { randomUUID } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { PerformanceObserver } from "node:perf_hooks";
import { silentLogger, sleep, subscribe, type LogFn, type Logger } from "../src/base/index.js";
import { EventClient, EventServer, encodeRaw, FrameType, LocalHub, publishChannel, type TopicName } from "../src/events/index.js";
import { Manager } from "../src/manager/index.js";
import { diffMembership, encodeTable, MembershipDigest, MembershipFeed, RoleMap, toTuple, type Entity, type MembershipDelta, type MembershipSnapshot } from "../src/overlay/index.js";
import { initCa, issueCertificate, TlsIdentity } from "../src/pki/index.js";
import type { SimCommand, SimConfig, SimReport } from "./scale-sim.js";
import type { BenchResult } from "./types.js";

const MANAGER = { subject: { CN: "mgr1", O: "sipthor", OU: "manager" }, roles: ["*"], ips: ["127.0.180.10"] };
const NODE_PUBLISHER = (id: string, ip: string) => ({ subject: { CN: id, O: "sipthor", OU: "node" }, roles: ["sip_proxy", "media_relay"], ips: [ip] });

/** Address of simulated member `i` (127.0.181.1 onwards, 250 per /24). */
export function simIp(i: number): string {
  return `127.0.${181 + Math.floor(i / 250)}.${(i % 250) + 1}`;
}

/** A member as `thor node --roles sip_proxy,media_relay` announces itself (about 221 bytes of JSON). */
export function modelEntity(i: number, ip = `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${(i & 255) + 1}`): Entity {
  return {
    id: `node${String(i).padStart(5, "0")}`,
    ip,
    roles: ["sip_proxy", "media_relay"],
    version: "0.1.0",
    ports: { lookup: 9500, control: 9501, sip_udp: 5060, sip_tcp: 5060, sip_tls: 5061, media_control: 2223 },
    attrs: {},
    startedAt: 1_800_000_000_000 + i * 7919,
  };
}

/** Bytes of the EVENT frame an event server sends each subscriber of `topic`. */
function eventBytes(topic: TopicName, payload: unknown, publisher = MANAGER): number {
  return encodeRaw(FrameType.EVENT, JSON.stringify({ topic, msgId: randomUUID(), payload, publisher })).length;
}

/** A logger that only counts messages by text (what the managers did during the run). */
class CountingLogger implements Logger {
  constructor(readonly counts = new Map<string, number>()) {}
  private count: LogFn = ((a: object | string, b?: string) => {
    const msg = typeof a === "string" ? a : (b ?? "");
    this.counts.set(msg, (this.counts.get(msg) ?? 0) + 1);
  }) as LogFn;
  debug = this.count;
  info = this.count;
  warn = this.count;
  error = this.count;
  child(): Logger {
    return new CountingLogger(this.counts);
  }
}

const cpuUs = () => {
  const c = process.cpuUsage();
  return c.user + c.system;
};

/**
 * What the model measures with the tree's own membership code. Written once
 * per wire protocol: `table` is what a member fetches in full, `change` what
 * each member receives for one join, `periodic` what the manager sends
 * every snapshot interval, `apply` feeds one member the change.
 */
interface ModelProtocol {
  name: string;
  table(members: Entity[]): number;
  change(members: Entity[], joined: Entity): number;
  periodic(members: Entity[]): number;
  /**
   * A member holding `members`, then `changes` changes one after another
   * (a new member joins, an old one leaves, alternately), each on its own
   * turn of the event loop: the cost of applying each.
   */
  apply(members: Entity[], changes: number): Promise<{ applied: Applied[]; gc: GcPauses }>;
}

/** Garbage-collection pauses during a series of changes. */
interface GcPauses {
  count: number;
  totalMs: number;
  maxMs: number;
}

/** One applied change: CPU time, the synchronous block (wall time), and ring points written (deltas only). */
interface Applied {
  cpuMs: number;
  blockMs: number;
  written?: number;
}

/** The `k`-th change of a series over `members`: even ones a new member joins, odd ones an old one leaves. */
function seriesChange(live: Entity[], n: number, k: number): { joined?: Entity; left?: Entity } {
  if (k % 2 === 0) {
    const joined = modelEntity(n + k);
    live.push(joined);
    return { joined };
  }
  return { left: live.splice((k * 7919) % live.length, 1)[0]! };
}

const snapshot = (epoch: number, seq: number, members: Entity[]): MembershipSnapshot => ({ epoch, seq, manager: "mgr1", at: 1_800_000_000_000 + seq, members });

/**
 * The protocol before issue 16, measured in the same run as the baseline:
 * the whole table (JSON objects) on every change and every interval, and a
 * member rebuilding every ring from it (what the feed did: diff + rebuild).
 */
const fullTables: ModelProtocol = {
  name: "full tables",
  table: (members) => eventBytes("Thor.Members", snapshot(1, 1, members)),
  change: (members, joined) => eventBytes("Thor.Members", snapshot(1, 2, [...members, joined])),
  periodic: (members) => eventBytes("Thor.Members", snapshot(1, 1, members)),
  async apply(members, changes) {
    const live = [...members];
    const out: Applied[] = [];
    const gc = gcPauses();
    for (let k = 0; k < changes; k++) {
      const before = snapshot(1, 1 + k, [...live]);
      seriesChange(live, members.length, k);
      const next = JSON.parse(JSON.stringify(snapshot(1, 2 + k, live))) as MembershipSnapshot;
      const c0 = cpuUs();
      const t0 = performance.now();
      diffMembership(before, next);
      RoleMap.fromMembers(next.members);
      out.push({ cpuMs: (cpuUs() - c0) / 1000, blockMs: performance.now() - t0 });
      await new Promise((r) => setImmediate(r));
    }
    return { applied: out, gc: await gc.stop() };
  },
};

/** Deltas, beacons and compressed tables on request, rings updated in place (issue 16). */
const deltas: ModelProtocol = {
  name: "deltas",
  table: (members) => tableParts(members).reduce((sum, p) => sum + eventBytes("Thor.MembersTable", p), 0),
  change: (members, joined) => eventBytes("Thor.Members", deltaFor(members, joined)),
  periodic: (members) => eventBytes("Thor.Members", { kind: "beacon", epoch: 1, seq: 1, manager: "mgr1", at: 1_800_000_000_000, count: members.length, digest: MembershipDigest.of(members).value }),
  async apply(members, changes) {
    const feed = new MembershipFeed();
    for (const p of tableParts(members)) feed.offerTable(p, MANAGER);
    const live = [...members];
    const digest = MembershipDigest.of(members);
    const out: Applied[] = [];
    const gc = gcPauses();
    for (let k = 0; k < changes; k++) {
      const { joined, left } = seriesChange(live, members.length, k);
      digest.toggle((joined ?? left)!);
      const delta: MembershipDelta = { kind: "delta", epoch: 1, seq: 2 + k, manager: "mgr1", at: 1_800_000_000_001 + k, count: live.length, digest: digest.value, upsert: joined ? [toTuple(joined)] : [], remove: left ? [left.id] : [] };
      const wire = JSON.parse(JSON.stringify(delta)) as MembershipDelta;
      const c0 = cpuUs();
      const t0 = performance.now();
      const verdict = feed.offer(wire, MANAGER);
      const cpuMs = (cpuUs() - c0) / 1000;
      const blockMs = performance.now() - t0;
      if (verdict.type !== "applied") throw new Error(`model delta ${k} not applied: ${JSON.stringify(verdict)}`);
      const map = verdict.update.map;
      out.push({ cpuMs, blockMs, written: map.roles().reduce((sum, role) => sum + (map.ring(role)?.layout().written ?? 0), 0) });
      await new Promise((r) => setImmediate(r));
    }
    return { applied: out, gc: await gc.stop() };
  },
};

function tableParts(members: Entity[]) {
  return encodeTable({ epoch: 1, seq: 1, manager: "mgr1", at: 1_800_000_000_000 }, members);
}

function deltaFor(members: Entity[], joined: Entity): MembershipDelta {
  const digest = MembershipDigest.of(members);
  digest.toggle(joined);
  return { kind: "delta", epoch: 1, seq: 2, manager: "mgr1", at: 1_800_000_000_001, count: members.length + 1, digest: digest.value, upsert: [toTuple(joined)], remove: [] };
}

/**
 * Join-to-everyone in process: a real Manager on a LocalHub holding `n`
 * members, `followers` feeds (1 point per member) following it, one joins:
 * the time until every follower's membership has it. Followers run one
 * after another here (in a network they run in parallel), so this is an
 * upper bound of the manager window plus delivery plus every apply.
 */
async function joinToEveryone(n: number, followers: number): Promise<{ ms: number; followers: number }> {
  const hub = new LocalHub();
  // Members announce once here: they must not expire while the model runs.
  const mgr = new Manager({ bus: hub.attach({ CN: "mgr1", OU: "manager" }), logger: silentLogger, id: "mgr1", ip: "10.255.0.1", heartbeatMs: 100, deadMs: 300, memberTimeoutMs: 3_600_000 });
  mgr.start();
  try {
    while (!mgr.isActive) await sleep(20);
    for (let i = 0; i < n; i++) {
      const e = modelEntity(i);
      hub.attach({ CN: e.id, OU: "node" }, ["*"], [e.ip]).publish("Thor.Presence", e);
    }
    while ((mgr.snapshot?.members.length ?? 0) < n) await sleep(20);
    const base = mgr.snapshot!;
    const joined = modelEntity(n);
    let have = 0;
    const feeds = Array.from({ length: followers }, (_, i) => {
      const feed = new MembershipFeed({ multiply: 1 });
      feed.offerSnapshot(base, MANAGER);
      feed.follow(hub.attach({ CN: `follower${i}`, OU: "node" }));
      feed.subscribe((u) => {
        if (u.changes.some((c) => c.type === "joined" && c.member.id === joined.id)) have++;
      });
      return feed;
    });
    const t0 = performance.now();
    hub.attach({ CN: joined.id, OU: "node" }, ["*"], [joined.ip]).publish("Thor.Presence", joined);
    while (have < feeds.length) await sleep(1);
    return { ms: performance.now() - t0, followers: feeds.length };
  } finally {
    mgr.stop();
  }
}

export const PROTOCOL: ModelProtocol = deltas;

const median = (xs: number[]) => quantile(xs, 0.5);
function quantile(xs: number[], q: number): number {
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? Number.NaN;
}

/** Garbage-collection pauses from now until `stop` (perf_hooks "gc" entries). */
function gcPauses(): { stop(): Promise<GcPauses> } {
  const pauses: number[] = [];
  const obs = new PerformanceObserver((list) => pauses.push(...list.getEntries().map((e) => e.duration)));
  obs.observe({ entryTypes: ["gc"] });
  return {
    async stop() {
      await new Promise((r) => setImmediate(r));
      obs.disconnect();
      return { count: pauses.length, totalMs: pauses.reduce((a, b) => a + b, 0), maxMs: Math.max(0, ...pauses) };
    },
  };
}

const SNAPSHOT_INTERVAL_S = 5;
const PRESENCE_INTERVAL_S = 2;
const MANAGERS = 2;

async function model(sizes: number[]): Promise<BenchResult[]> {
  const out: BenchResult[] = [];
  for (const n of sizes) {
    const members = Array.from({ length: n }, (_, i) => modelEntity(i));
    const joined = modelEntity(n);
    const presence = eventBytes("Thor.Presence", joined, NODE_PUBLISHER(joined.id, joined.ip));
    const presenceEgress = (MANAGERS * n * presence) / PRESENCE_INTERVAL_S;
    const egress = (p: ModelProtocol) => (n * p.periodic(members)) / SNAPSHOT_INTERVAL_S + presenceEgress;
    const BASE = fullTables;
    out.push({ name: `model ${n}: full table on the wire`, value: PROTOCOL.table(members) / 1000, unit: "kB", baseline: { name: BASE.name, value: BASE.table(members) / 1000 }, note: `${PROTOCOL.name}: sent only to a member that asks` });
    out.push({ name: `model ${n}: one join, bytes to each member per event server`, value: PROTOCOL.change(members, joined), unit: "B", baseline: { name: BASE.name, value: BASE.change(members, joined) } });
    out.push({
      name: `model ${n}: steady-state egress per event server`,
      value: egress(PROTOCOL) / 1e6,
      unit: "MB/s",
      baseline: { name: BASE.name, value: egress(BASE) / 1e6 },
      note: `membership ${((egress(PROTOCOL) - presenceEgress) / 1e6).toFixed(3)} MB/s (${PROTOCOL.periodic(members)} B per member every ${SNAPSHOT_INTERVAL_S} s) + presence to ${MANAGERS} managers ${(presenceEgress / 1e6).toFixed(3)} MB/s`,
    });
    // A series of changes on one member (the rings evolve as in a network), and the same changes the old way.
    const changes = Number(process.env["THOR_BENCH_SCALE_CHANGES"] ?? (n >= 10_000 ? 20 : 60));
    const { applied: now, gc: pauses } = await PROTOCOL.apply(members, changes);
    const { applied: before } = await BASE.apply(members, n >= 10_000 ? 1 : 3);
    const cpu = now.map((a) => a.cpuMs);
    const block = now.map((a) => a.blockMs);
    out.push({
      name: `model ${n}: member applies one join or leave (2 rings × 1000 points)`,
      value: median(cpu),
      unit: "ms CPU",
      baseline: { name: `${BASE.name} (diff + ring rebuild)`, value: median(before.map((a) => a.cpuMs)) },
      note: `median of ${changes} changes in a row; CPU p95 ${quantile(cpu, 0.95).toFixed(1)}, max ${Math.max(...cpu).toFixed(1)} ms; synchronous block median ${median(block).toFixed(1)}, max ${Math.max(...block).toFixed(1)} ms; ring points written per change median ${median(now.map((a) => a.written ?? 0)).toLocaleString("en")} of ${(2 * (n + 1) * 1000).toLocaleString("en")}; GC meanwhile ${pauses.count} pauses, ${pauses.totalMs.toFixed(0)} ms, longest ${pauses.maxMs.toFixed(1)} ms`,
    });
    const followers = Math.min(n, Number(process.env["THOR_BENCH_SCALE_FOLLOWERS"] ?? 500));
    const j = await joinToEveryone(n, followers);
    out.push({ name: `model ${n}: join → in every follower's membership (in process)`, value: j.ms, unit: "ms", note: `real Manager on an in-process bus, ${j.followers} followers applied one after another (manager window 50 ms)` });
  }
  return out;
}

// ---------------------------------------------------------------- loopback

interface SimProc {
  child: ChildProcess;
  names: string[];
  next(ev: SimReport["ev"], match?: (r: SimReport) => boolean): Promise<SimReport>;
  send(c: SimCommand): void;
}

function spawnSim(cfg: SimConfig): Promise<SimProc> {
  const child = fork(fileURLToPath(new URL("./scale-sim.js", import.meta.url)), [JSON.stringify(cfg)], { stdio: ["ignore", "inherit", "inherit", "ipc"] });
  const waiters: Array<{ ev: string; match: (r: SimReport) => boolean; resolve: (r: SimReport) => void }> = [];
  child.on("message", (r: SimReport) => {
    const i = waiters.findIndex((w) => w.ev === r.ev && w.match(r));
    if (i >= 0) waiters.splice(i, 1)[0]!.resolve(r);
  });
  const proc: SimProc = {
    child,
    names: cfg.members.map((m) => m.name),
    next: (ev, match = () => true) => new Promise((resolve) => waiters.push({ ev, match, resolve })),
    send: (c) => child.send(c),
  };
  return proc.next("ready").then(() => proc);
}

async function withDeadline<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const t = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`bench scale: ${what} not within ${ms} ms`)), ms)));
  try {
    return await Promise.race([p, t]);
  } finally {
    clearTimeout(timer);
  }
}

async function loopback(memberCount: number, procCount: number): Promise<BenchResult[]> {
  const dir = mkdtempSync(join(tmpdir(), "thor-bench-scale-"));
  const caDir = join(dir, "ca");
  const closers: Array<() => Promise<unknown>> = [];
  const sims: SimProc[] = [];
  try {
    await initCa(caDir, { commonName: "scale bench CA", org: "sipthor", force: true });
    const esIps = ["127.0.180.1", "127.0.180.2", "127.0.180.3"];
    for (const [i, ip] of esIps.entries()) await issueCertificate(caDir, `es${i + 1}`, { ip: [ip], ou: "eventserver", roles: ["*"], force: true });
    for (const i of [1, 2]) await issueCertificate(caDir, `mgr${i}`, { ip: [`127.0.180.${9 + i}`], ou: "manager", roles: ["*"], force: true });
    const members = Array.from({ length: memberCount }, (_, i) => ({ name: `sim${String(i).padStart(4, "0")}`, ip: simIp(i) }));
    const full = { name: "full1", ip: "127.0.180.20" };
    const t0 = performance.now();
    for (const m of [...members, full]) await issueCertificate(caDir, m.name, { ip: [m.ip], ou: "node", roles: ["sip_proxy", "media_relay"], force: true });
    process.stdout.write(`  (issued ${memberCount + 1} member certificates in ${((performance.now() - t0) / 1000).toFixed(1)} s)\n`);
    const load = (name: string) => TlsIdentity.load({ ca: join(caDir, "ca.crt"), cert: join(caDir, "certs", `${name}.crt`), key: join(caDir, "certs", `${name}.key`) });

    let relayed = 0;
    const topicBytes = new Map<string, number>();
    const unsub = subscribe<{ topic: string; bytes: number; subscribers: number }>(publishChannel.name, (m) => {
      relayed += m.bytes * m.subscribers;
      topicBytes.set(m.topic, (topicBytes.get(m.topic) ?? 0) + m.bytes * m.subscribers);
    });
    closers.push(async () => unsub());
    const servers: string[] = [];
    for (const [i, ip] of esIps.entries()) {
      const es = new EventServer({ identity: await load(`es${i + 1}`), logger: silentLogger, host: ip, port: 0 });
      const { port } = await es.start();
      servers.push(`${ip}:${port}`);
      closers.push(() => es.stop());
    }
    const managers: Manager[] = [];
    const mgrLog = new CountingLogger();
    const mgrCounts = () => new Map(mgrLog.counts);
    for (const i of [1, 2]) {
      const bus = new EventClient({ identity: await load(`mgr${i}`), logger: silentLogger, servers: servers.map((s) => ({ host: s.split(":")[0]!, port: Number(s.split(":")[1]) })) });
      await bus.start();
      const mgr = new Manager({ bus, logger: mgrLog, id: `mgr${i}`, ip: `127.0.180.${9 + i}`, priority: i });
      mgr.start();
      managers.push(mgr);
      closers.push(async () => {
        mgr.stop();
        await bus.close(500);
      });
    }
    const active = () => managers.find((m) => m.isActive);
    const listed = () => active()?.snapshot?.members.length ?? 0;

    const per = Math.ceil(memberCount / procCount);
    for (let p = 0; p < procCount; p++) sims.push(await spawnSim({ caDir, servers, multiply: 1, members: members.slice(p * per, (p + 1) * per) }));
    const fullSim = await spawnSim({ caDir, servers, multiply: 1000, members: [full] });
    sims.push(fullSim);
    const all = sims;
    const crowd = sims.filter((s) => s !== fullSim);
    const tStart = performance.now();
    fullSim.send({ cmd: "start", names: [full.name] });
    await fullSim.next("started");
    await Promise.all(crowd.map(async (s) => {
      s.send({ cmd: "start", names: s.names });
      await s.next("started");
    }));
    await withDeadline(
      (async () => {
        while (listed() < memberCount + 1) await sleep(100);
      })(),
      600_000,
      "every member listed",
    );
    const watchAll = async (id: string, present: boolean): Promise<number> => {
      const seen = all.map((s) => s.next("seen", (r) => r.ev === "seen" && r.id === id && r.present === present));
      for (const s of all) s.send({ cmd: "watch", id, present });
      const reports = await withDeadline(Promise.all(seen), 120_000, `${id} ${present ? "in" : "out of"} every membership`);
      return Math.max(...reports.map((r) => (r.ev === "seen" ? r.at : 0)));
    };
    await watchAll(full.name, true);
    const startupS = (performance.now() - tStart) / 1000;
    process.stdout.write(`  (${memberCount + 1} members up and in every membership after ${startupS.toFixed(1)} s)\n`);

    const fullStats = async () => {
      const r = fullSim.next("stats");
      fullSim.send({ cmd: "stats" });
      const s = await r;
      return s.ev === "stats" ? s : { cpuUs: 0, elMaxMs: 0, rssMb: 0, applyUs: [], applyWallMs: [], gcMaxMs: 0 };
    };
    // Steady state: let the start-up settle, then count every relayed byte.
    await sleep(8000);
    const steadyS = Number(process.env["THOR_BENCH_SCALE_STEADY_S"] ?? 15);
    const b0 = relayed;
    const topics0 = new Map(topicBytes);
    const m0 = mgrCounts();
    const s0 = await fullStats();
    await sleep(steadyS * 1000);
    const s1 = await fullStats();
    const steadyRate = (relayed - b0) / steadyS;
    const steadyCpuRate = (s1.cpuUs - s0.cpuUs) / steadyS;
    const churn = [...mgrLog.counts].filter(([k, v]) => v !== (m0.get(k) ?? 0)).map(([k, v]) => `${k} ×${v - (m0.get(k) ?? 0)}`).join(", ");
    const byTopic = [...topicBytes].map(([t, b]) => `${t.replace("Thor.", "")} ${((b - (topics0.get(t) ?? 0)) / steadyS / esIps.length / 1e6).toFixed(3)}`).join(", ");

    // Changes: a member leaves, then joins again; each is timed until every member's membership reflects it.
    const rounds = Number(process.env["THOR_BENCH_SCALE_ROUNDS"] ?? 3);
    const joins: number[] = [];
    const leaves: number[] = [];
    const changeBytes: number[] = [];
    const changeCpu: number[] = [];
    const applyCpu: number[] = [];
    const applyWall: number[] = [];
    const gcMax: number[] = [];
    const blocks: number[] = [];
    for (let r = 0; r < rounds; r++) {
      const sim = crowd[r % crowd.length]!;
      const name = sim.names[r]!;
      for (const present of [false, true]) {
        const st0 = await fullStats();
        const bb = relayed;
        const t = Date.now();
        const w = watchAll(name, present);
        sim.send({ cmd: present ? "start" : "stop", names: [name] });
        const at = await w;
        (present ? joins : leaves).push(at - t);
        await sleep(1000);
        const st1 = await fullStats();
        const span = (Date.now() - t) / 1000;
        changeBytes.push(relayed - bb - steadyRate * span);
        changeCpu.push((st1.cpuUs - st0.cpuUs - steadyCpuRate * span) / 1000);
        applyCpu.push(...st1.applyUs.map((us) => us / 1000));
        applyWall.push(...st1.applyWallMs);
        gcMax.push(st1.gcMaxMs);
        blocks.push(st1.elMaxMs);
      }
    }
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    const n = memberCount + 1;
    return [
      { name: `loopback ${n}: steady-state egress per event server`, value: steadyRate / esIps.length / 1e6, unit: "MB/s", note: `over ${steadyS} s; MB/s by topic: ${byTopic}; the managers meanwhile: ${churn || "nothing logged"}` },
      { name: `loopback ${n}: one join or leave, extra egress per event server`, value: mean(changeBytes) / esIps.length / 1000, unit: "kB", note: `per member ${(mean(changeBytes) / esIps.length / n).toFixed(0)} B per event server, ${(mean(changeBytes) / n).toFixed(0)} B over all ${esIps.length}; mean of ${changeBytes.length}` },
      { name: `loopback ${n}: leave → out of every member's membership`, value: mean(leaves), unit: "ms", note: `max ${Math.max(...leaves)} ms` },
      { name: `loopback ${n}: join → in every member's membership`, value: mean(joins), unit: "ms", note: `max ${Math.max(...joins)} ms; start-up of all members ${startupS.toFixed(0)} s` },
      { name: `loopback ${n}: full member CPU applying one delta (feed, 2 rings × 1000 points)`, value: median(applyCpu), unit: "ms", note: `median of ${applyCpu.length}, max ${Math.max(...applyCpu).toFixed(1)} ms; measured around the feed's handler; its wall time (the block it causes, preemption included) median ${median(applyWall).toFixed(1)}, max ${Math.max(...applyWall).toFixed(1)} ms; longest GC pause during the changes ${Math.max(...gcMax).toFixed(1)} ms` },
      { name: `loopback ${n}: full member process CPU per change`, value: mean(changeCpu), unit: "ms", note: `all of it (TLS, 3 copies, decode, apply) above its steady ${(steadyCpuRate / 1000).toFixed(1)} ms/s, so noisy; longest event-loop delay ${Math.max(...blocks).toFixed(0)} ms (monitorEventLoopDelay: TLS, decoding, GC and waiting for a core on a loaded machine included); RSS ${s1.rssMb.toFixed(0)} MB` },
    ];
  } finally {
    for (const s of sims) s.child.kill("SIGKILL");
    for (const c of closers.reverse()) await c().catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function run(): Promise<BenchResult[]> {
  const sizes = (process.env["THOR_BENCH_SCALE_MODEL"] ?? "100,1000,10000").split(",").map(Number).filter((n) => n > 0);
  const out = await model(sizes);
  if (process.env["THOR_BENCH_SCALE_LOOPBACK"] !== "0") {
    out.push(...(await loopback(Number(process.env["THOR_BENCH_SCALE_MEMBERS"] ?? 1000), Number(process.env["THOR_BENCH_SCALE_PROCS"] ?? 2))));
  }
  return out;
}
