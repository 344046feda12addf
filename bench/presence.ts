/**
 * `npm run bench -- presence`: the presence agent against Kamailio's
 * presence modules, same clients, same run, over loopback UDP:
 *
 * - **thor sip** (one process, 127.0.150.60) and **Kamailio 5.6**
 *   (presence + presence_xml on db_text, `bench/kamailio/presence.cfg.tmpl`,
 *   127.0.150.70): subscriptions per second (1,000 watchers of a foreign
 *   domain at once, so no digest round per SUBSCRIBE, until each has its
 *   200 and first NOTIFY), PUBLISH → NOTIFY latency to 1, 100 and 1,000
 *   watchers (until the last watcher has its NOTIFY; the PUBLISH's 407
 *   challenge round is included for both), and memory per subscription
 *   (PSS of the server's processes, before and after the 1,000).
 * - **thor, 3 nodes** (real `thor node` processes on 127.0.151.0/24): the
 *   watchers subscribe through node3, the presentity is held by node1 and
 *   publishes there: every NOTIFY crosses from node1 to node3 over the
 *   internal TLS link (the cross-node path). Same measures.
 *
 * Watchers retransmit their SUBSCRIBE every 500 ms until answered (UDP).
 */
import dgram from "node:dgram";
import { spawn, type ChildProcess } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { sleep } from "../src/base/index.js";
import { issueLabCertificates, planLab } from "../src/cli/lab.js";
import { RoleMap } from "../src/overlay/index.js";
import { PresenceUa, pidf } from "../test/support/presence-ua.js";
import { startBenchLab, until as labUntil } from "./lab-run.js";
import { processTree, pssBytes } from "./proc-stats.js";
import type { BenchResult } from "./types.js";

const D = "example.test";
const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const BIN = join(ROOT, "bin/thor.js");
const COUNTS = [1, 100, 1000] as const;
const KAM_CHILDREN = Number(process.env["THOR_BENCH_KAM_CHILDREN"] ?? 2);
const password = (u: string) => `${u}-pw`;

/** A watcher that subscribes once (retransmitting until answered) and answers every NOTIFY 200, counting them. */
class Watcher {
  notifies = 0;
  ok = false;
  /** The last answer that was not a 2xx (for the error message). */
  last = "";
  private sock = dgram.createSocket("udp4");
  constructor(
    private readonly n: number,
    private readonly ip: string,
  ) {}
  async start(): Promise<void> {
    this.sock.on("message", (m) => this.onMessage(m.toString("latin1")));
    await new Promise<void>((r) => this.sock.bind(0, this.ip, () => r()));
  }
  private onMessage(text: string): void {
    if (text.startsWith("SIP/2.0 ")) {
      if (/^SIP\/2\.0 2\d\d/.test(text)) this.ok = true;
      else if (/^SIP\/2\.0 [3-6]\d\d/.test(text)) {
        // A failure (503 under load, with Retry-After): the next try is a new transaction.
        this.last = text.slice(0, text.indexOf("\r\n"));
        this.attempt++;
      }
      return;
    }
    if (!text.startsWith("NOTIFY")) return;
    this.notifies++;
    const head = text.slice(0, text.indexOf("\r\n\r\n"));
    const keep = head.split("\r\n").filter((l) => /^(via|v|from|f|to|t|call-id|i|cseq):/i.test(l));
    const via = keep.find((l) => /^(via|v):/i.test(l)) ?? "";
    const m = /SIP\/2\.0\/UDP ([^:;\s]+):?(\d+)?/i.exec(via);
    if (m) this.sock.send(Buffer.from(["SIP/2.0 200 OK", ...keep, "Content-Length: 0", "", ""].join("\r\n")), Number(m[2] ?? 5060), m[1]);
  }
  subscribe(host: string, port: number, presentity: string): void {
    this.target = { host, port, presentity };
    this.resend();
  }
  private target = { host: "", port: 0, presentity: "" };
  private attempt = 1;
  /** Send (again) until answered 2xx: a retransmission of the same transaction, or a new one after a failure. */
  resend(): void {
    if (this.ok || !this.target.presentity) return;
    const a = this.sock.address();
    const p = this.target.presentity;
    const request = Buffer.from(
      [`SUBSCRIBE sip:${p} SIP/2.0`, `Via: SIP/2.0/UDP ${a.address}:${a.port};branch=z9hG4bK-w${this.n}-${this.attempt};rport`, "Max-Forwards: 70", `From: <sip:w${this.n}@watchers.test>;tag=w${this.n}`, `To: <sip:${p}>`, `Call-ID: bench-${this.n}@${a.address}`, `CSeq: ${this.attempt} SUBSCRIBE`, `Contact: <sip:w${this.n}@${a.address}:${a.port}>`, "Event: presence", "Accept: application/pidf+xml", "Expires: 3600", "Content-Length: 0", "", ""].join("\r\n"),
    );
    this.sock.send(request, this.target.port, this.target.host);
  }
  close(): void {
    this.sock.close();
  }
}

async function until(cond: () => boolean, timeoutMs: number, what: string | (() => string), every?: () => void): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let next = Date.now() + 500;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`presence bench: timed out waiting for ${typeof what === "string" ? what : what()}`);
    if (every && Date.now() >= next) {
      every();
      next = Date.now() + 500;
    }
    await new Promise((r) => setTimeout(r, 1));
  }
}

interface Target {
  name: string;
  /** Where watchers send their SUBSCRIBE. */
  subscribeTo: { host: string; port: number };
  /** Where the publisher sends its PUBLISH. */
  publishTo: { host: string; port: number };
  /** The presentities for 1, 100 and 1,000 watchers. */
  presentities: readonly [string, string, string];
  watcherIp: string;
  publisherIp: string;
  /** The server's processes (PSS), or none when not measured. */
  pids(): number[];
}

interface Figures {
  subsPerSecond: number;
  bytesPerSub: number | undefined;
  latency: Map<number, number>;
}

async function measure(t: Target): Promise<Figures> {
  const all: Watcher[] = [];
  const latency = new Map<number, number>();
  let subsPerSecond = 0;
  let bytesPerSub: number | undefined;
  let n = 0;
  try {
    for (const [i, count] of COUNTS.entries()) {
      const presentity = t.presentities[i]!;
      const watchers = Array.from({ length: count }, () => new Watcher(n++, t.watcherIp));
      all.push(...watchers);
      await Promise.all(watchers.map((w) => w.start()));
      const pss0 = count === 1000 ? pssBytes(t.pids()) : 0;
      const t0 = performance.now();
      for (const w of watchers) w.subscribe(t.subscribeTo.host, t.subscribeTo.port, presentity);
      await until(() => watchers.every((w) => w.ok && w.notifies >= 1), 60_000, () => `${count} subscriptions to ${t.name} (${watchers.filter((w) => !w.ok).length} unanswered, last answer: ${watchers.find((w) => w.last)?.last ?? "none"}; ${watchers.filter((w) => w.ok && w.notifies === 0).length} without NOTIFY)`, () => watchers.forEach((w) => w.resend()));
      const subMs = performance.now() - t0;
      if (count === 1000) {
        subsPerSecond = count / (subMs / 1000);
        await sleep(300);
        const pids = t.pids();
        if (pids.length > 0) bytesPerSub = (pssBytes(pids) - pss0) / count;
      }
      const user = presentity.slice(0, presentity.indexOf("@"));
      const publisher = new PresenceUa(t.publisherIp, user, D, password(user), t.publishTo);
      await publisher.start();
      const samples: number[] = [];
      try {
        for (let k = 0; k < 5; k++) {
          const before = watchers.map((w) => w.notifies);
          const start = performance.now();
          const res = await publisher.publish(pidf(`sip:${presentity}`, k % 2 ? "open" : "closed", `round ${k}`));
          if (res.status !== 200) throw new Error(`PUBLISH to ${t.name} answered ${res.status}`);
          await until(() => watchers.every((w, j) => w.notifies > before[j]!), 60_000, `NOTIFYs to ${count} from ${t.name}`);
          samples.push(performance.now() - start);
        }
      } finally {
        publisher.close();
      }
      samples.sort((a, b) => a - b);
      latency.set(count, samples[2]!);
    }
  } finally {
    for (const w of all) w.close();
  }
  return { subsPerSecond, bytesPerSub, latency };
}

function writeUsers(dir: string, users: readonly string[]): string {
  const file = join(dir, "users.toml");
  writeFileSync(file, users.map((u) => `[[users]]\nusername = "${u}"\npassword = "${password(u)}"\n`).join("\n"));
  return file;
}

async function waitUdp(host: string, port: number, what: string): Promise<void> {
  // Any answer to an OPTIONS says the server listens.
  const sock = dgram.createSocket("udp4");
  await new Promise<void>((r) => sock.bind(0, host, () => r()));
  let answered = false;
  sock.on("message", () => (answered = true));
  const msg = Buffer.from([`OPTIONS sip:${host}:${port} SIP/2.0`, `Via: SIP/2.0/UDP ${host}:${sock.address().port};branch=z9hG4bK-probe;rport`, "Max-Forwards: 70", `From: <sip:probe@${D}>;tag=p`, `To: <sip:${host}>`, "Call-ID: probe", "CSeq: 1 OPTIONS", "Content-Length: 0", "", ""].join("\r\n"));
  try {
    await until(() => answered, 30_000, what, () => sock.send(msg, port, host));
  } finally {
    sock.close();
  }
}

function stop(p: ChildProcess | undefined): void {
  if (p?.pid && p.exitCode === null) for (const pid of processTree(p.pid).reverse()) try {
    process.kill(pid, "SIGKILL");
  } catch {
    /* gone */
  }
}

async function thorSingle(dir: string): Promise<{ target: Target; proc: ChildProcess }> {
  const host = "127.0.150.60";
  const users = writeUsers(dir, ["p0", "p1", "p2"]);
  const log = openSync(join(dir, "thor-sip.log"), "w");
  const proc = spawn(process.execPath, [BIN, "sip", "--domain", D, "--listen", `udp:${host}:5060`, "--users", users, "--algorithms", "MD5", "--rate", "10000000", "--presence-without-rules", "allow", "--presence-max-watchers", "5000", "--log-level", "warn"], { stdio: ["ignore", log, log] });
  await waitUdp(host, 5060, "thor sip listening");
  const presentities = ["p0", "p1", "p2"].map((u) => `${u}@${D}`) as [string, string, string];
  return { proc, target: { name: "thor sip", subscribeTo: { host, port: 5060 }, publishTo: { host, port: 5060 }, presentities, watcherIp: "127.0.150.61", publisherIp: "127.0.150.62", pids: () => (proc.pid ? [proc.pid] : []) } };
}

async function kamailio(dir: string): Promise<{ target: Target; proc: ChildProcess }> {
  const host = "127.0.150.70";
  const db = join(dir, "kamdb");
  mkdirSync(db);
  // db_text reads every file of its directory as a table: the presence tables' definitions, the credentials.
  const schemas = "/usr/share/kamailio/dbtext/kamailio";
  for (const t of ["presentity", "active_watchers", "watchers", "xcap"]) writeFileSync(join(db, t), readFileSync(join(schemas, t), "utf8").split("\n")[0]! + "\n");
  writeFileSync(join(db, "version"), "table_name(str) table_version(int)\ncredentials:2\npresentity:5\nactive_watchers:12\nwatchers:3\nxcap:4\n");
  const rows = ["p0", "p1", "p2"].map((u, i) => `${i + 1}:${u}:0:0:${createHash("md5").update(`${u}:${D}:${password(u)}`).digest("hex")}:0`);
  writeFileSync(join(db, "credentials"), "id(int,auto) key_name(str) key_type(int) value_type(int) key_value(str) expires(int)\n" + rows.join("\n") + "\n");
  const cfg = readFileSync(join(ROOT, "bench/kamailio/presence.cfg.tmpl"), "utf8").replaceAll("@LISTEN@", `${host}:5060`).replaceAll("@DB@", db).replaceAll("@CHILDREN@", String(KAM_CHILDREN));
  writeFileSync(join(dir, "kamailio-presence.cfg"), cfg);
  const log = openSync(join(dir, "kamailio.log"), "w");
  const proc = spawn("kamailio", ["-f", join(dir, "kamailio-presence.cfg"), "-DD", "-E", "-w", dir, "-m", "512", "-M", "32"], { stdio: ["ignore", log, log] });
  await waitUdp(host, 5060, "Kamailio listening").catch((err: unknown) => {
    throw new Error(`${String(err)}\n${readFileSync(join(dir, "kamailio.log"), "utf8").slice(-2000)}`);
  });
  const presentities = ["p0", "p1", "p2"].map((u) => `${u}@${D}`) as [string, string, string];
  return { proc, target: { name: `Kamailio 5.6 presence (db_text, ${KAM_CHILDREN} workers)`, subscribeTo: { host, port: 5060 }, publishTo: { host, port: 5060 }, presentities, watcherIp: "127.0.150.71", publisherIp: "127.0.150.72", pids: () => (proc.pid ? processTree(proc.pid) : []) } };
}

/** Three nodes: presentities held by node1 (then node2); watchers through node3, the publisher at node1. */
async function cluster(dir: string): Promise<{ target: Target; stop: () => Promise<void> }> {
  const subnet = "127.0.151";
  const plan = planLab({ dir, subnet, fast: true, sipDomain: D, eventServers: 1, managers: 1, nodes: [["sip_proxy"], ["sip_proxy"], ["sip_proxy"]] });
  await issueLabCertificates(plan);
  const users = Array.from({ length: 60 }, (_, i) => `c${i}`);
  writeFileSync(plan.usersFile, users.map((u) => `[[users]]\nusername = "${u}"\npassword = "${password(u)}"\n`).join("\n"));
  const lab = await startBenchLab(plan, (m) => (m.kind === "node" ? ["--sip-rate", "1000000", "--log-level", "warn", "--presence-without-rules", "allow", "--presence-max-watchers", "5000"] : []));
  try {
    await labUntil(() => (lab.view.snapshot?.members.length ?? 0) === 3, 60_000, "3 nodes up");
    await sleep(1000);
    const map = RoleMap.fromMembers(lab.view.snapshot!.members);
    const ids = plan.members.filter((m) => m.kind === "node").map((m) => m.name);
    const held = users.filter((u) => {
      const h = map.successors("sip_proxy", `${u}@${D}`, 2).map((e) => e.id);
      return h[0] === ids[0] && h[1] === ids[1];
    });
    if (held.length < 3) throw new Error("presence bench: fewer than 3 users held by node1 then node2");
    const nodes = plan.members.filter((m) => m.kind === "node");
    const presentities = held.slice(0, 3).map((u) => `${u}@${D}`) as [string, string, string];
    const target: Target = { name: "thor, 3 nodes (watchers on another node)", subscribeTo: { host: nodes[2]!.ip, port: 5060 }, publishTo: { host: nodes[0]!.ip, port: 5060 }, presentities, watcherIp: `${subnet}.61`, publisherIp: `${subnet}.62`, pids: () => [] };
    return { target, stop: () => lab.stop("kill") };
  } catch (err) {
    await lab.stop("kill");
    throw err;
  }
}

export async function run(): Promise<BenchResult[]> {
  const dir = mkdtempSync(join(tmpdir(), "thor-bench-presence-"));
  const results: BenchResult[] = [];
  const note = "noisy unless the machine is quiet";
  try {
    const thor = await thorSingle(dir);
    let ours: Figures;
    try {
      ours = await measure(thor.target);
    } finally {
      stop(thor.proc);
    }
    let theirs: Figures | undefined;
    let kamWhy = "";
    try {
      const kam = await kamailio(dir);
      try {
        theirs = await measure(kam.target);
      } finally {
        stop(kam.proc);
      }
    } catch (err) {
      kamWhy = `Kamailio baseline failed: ${String(err).slice(0, 300)}`;
    }
    const base = (name: string, value: number | undefined) => (value !== undefined && theirs ? { baseline: { name, value } } : {});
    const kamName = `Kamailio 5.6 presence (db_text, ${KAM_CHILDREN} workers)`;
    results.push({ name: "presence SUBSCRIBE → 200 + first NOTIFY, 1,000 watchers at once (thor sip)", value: ours.subsPerSecond, unit: "subscriptions/s", ...base(kamName, theirs?.subsPerSecond), note: kamWhy || note });
    for (const c of COUNTS) results.push({ name: `presence PUBLISH → NOTIFY to ${c.toLocaleString("en-US")} watcher${c > 1 ? "s" : ""} (thor sip, median of 5, until the last)`, value: ours.latency.get(c)!, unit: "ms", ...base(kamName, theirs?.latency.get(c)), note: kamWhy || note });
    if (ours.bytesPerSub !== undefined) results.push({ name: "presence memory per subscription (thor sip, PSS over 1,000)", value: ours.bytesPerSub, unit: "bytes", ...base(kamName, theirs?.bytesPerSub), note: kamWhy || `${note}; PSS of the server's processes` });

    const c = await cluster(join(dir, "cluster"));
    try {
      const cross = await measure(c.target).catch((err: unknown) => {
        results.push({ name: "presence across 3 nodes", value: 0, unit: "", note: `not measured: ${String(err).slice(0, 300)}` });
        return undefined;
      });
      if (!cross) return results;
      results.push({ name: "presence SUBSCRIBE → 200 + first NOTIFY, 1,000 watchers at once (3 nodes, watchers on another node than the presentity)", value: cross.subsPerSecond, unit: "subscriptions/s", baseline: { name: "thor sip, one node", value: ours.subsPerSecond }, note });
      for (const n of COUNTS) results.push({ name: `presence PUBLISH → NOTIFY to ${n.toLocaleString("en-US")} watcher${n > 1 ? "s" : ""} (3 nodes, NOTIFYs cross to the watchers' node)`, value: cross.latency.get(n)!, unit: "ms", baseline: { name: "thor sip, one node", value: ours.latency.get(n)! }, note });
    } finally {
      await c.stop();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return results;
}
