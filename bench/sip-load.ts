/**
 * SIP throughput against Kamailio, driven by SIPp over UDP on this machine,
 * same scenarios, same run:
 *   - REGISTER with digest authentication (401 challenge, then credentials),
 *     2000 distinct users;
 *   - full calls through the proxy (INVITE, 407, authenticated INVITE,
 *     180, 200, ACK, BYE, no pause) from one SIPp UAC to UASES registered
 *     SIPp UASes (different users and ports, called in turn), so the
 *     callees are not what limits the rate: the proxy is.
 * Kamailio 5.6 (Debian package) runs with one UDP worker (`children=1`),
 * db_text credentials and in-memory usrloc, so both servers use one core;
 * it gets 512 MB of shared memory (`-m`): with the default 64 MB, its
 * transaction table runs out under this call load and the worker crashes.
 * Each figure is successful scenarios per second at saturation (SIPp keeps
 * a fixed number of scenarios in flight), the median of three rounds in
 * which thor and Kamailio (both running) are measured in turn.
 * Also: heap per registered binding at 100k bindings (in process), and the
 * cost of metrics: a second thor with `--metrics-listen` (every diagnostics
 * channel subscribed, scraped once a second during the load) measured in the
 * same rounds as the first (issue 13: at most 3 % apart).
 * Addresses: 127.0.9.0/24, or THOR_BENCH_NET=127.0.x to run beside
 * something else that uses it.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import v8 from "node:v8";
import vm from "node:vm";
import { parseMessage, Registrar, type SipRequest, type Flow } from "../src/sip/index.js";
import { sleep } from "../src/base/index.js";
import type { BenchResult } from "./types.js";
import { runSippStats, type SippStats } from "./sipp-run.js";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const BIN = join(ROOT, "bin/thor.js");
const USERS = 2000;
const REGISTERS = 8000;
const CALLS = 6000;
/** Callees: SIPp UASes, each registered as its own user on its own port. */
const UASES = 4;
const NET = process.env["THOR_BENCH_NET"] ?? "127.0.9";
/** thor and Kamailio are measured in turn this many times; the median round is reported. */
const ROUNDS = 3;

const runSipp = (args: string[], cwd: string): Promise<SippStats> => runSippStats(args, cwd);

async function waitOptions(target: string, cwd: string): Promise<void> {
  for (let i = 0; i < 50; i++) {
    const r = await runSipp(["-sf", join(ROOT, "bench/sipp/ping.xml"), "-m", "1", "-i", `${NET}.9`, "-p", String(6000 + i), "-key", "domain", "example.test", "-timeout", "2s", target], cwd);
    if (r.ok === 1) return;
    await sleep(200);
  }
  throw new Error(`${target} did not come up`);
}

async function measure(name: string, target: string, ipBase: number, cwd: string): Promise<{ register: SippStats; calls: SippStats }> {
  const step = (s: string) => { if (process.env["THOR_BENCH_DEBUG"]) process.stderr.write(`${name}: ${s}\n`); };
  step("probe");
  await waitOptions(target, cwd);
  const ip = (n: number) => `${NET}.${ipBase + n}`;
  step("register load");
  const register = await runSipp(["-sf", join(ROOT, "bench/sipp/register-load.xml"), "-inf", join(cwd, "users.csv"), "-key", "domain", "example.test", "-i", ip(0), "-p", "5061", "-m", String(REGISTERS), "-r", "50000", "-l", "400", "-timeout", "60s", target], cwd);
  // The callees: users u1..uN, each registered, then a UAS answering every call it gets.
  step("callee registrations");
  const uases: ChildProcess[] = [];
  try {
    for (let i = 1; i <= UASES; i++) {
      const port = 5070 + 2 * i;
      const reg = await runSipp(["-sf", join(ROOT, "test/sip/scenarios/register.xml"), "-i", ip(1), "-p", String(port + 1), "-m", "1", "-au", `u${i}`, "-ap", `u${i}-secret`, "-key", "user", `u${i}`, "-key", "domain", "example.test", "-key", "contact", `sip:u${i}@${ip(1)}:${port}`, "-key", "expires", "3600", target], cwd);
      if (reg.ok !== 1) throw new Error(`${name}: registration of callee u${i} failed`);
      uases.push(spawn("sipp", ["-sf", join(ROOT, "test/sip/scenarios/uas.xml"), "-i", ip(1), "-p", String(port), "-m", String(CALLS * 2), "-nostdin", "-timeout", "120s"], { cwd, stdio: "ignore" }));
    }
    await sleep(300);
    step("calls");
    const calls = await runSipp(["-sf", join(ROOT, "bench/sipp/uac-load.xml"), "-inf", join(cwd, "callees.csv"), "-i", ip(2), "-p", "5080", "-au", "u0", "-ap", "u0-secret", "-key", "user", "u0", "-key", "domain", "example.test", "-m", String(CALLS), "-r", "50000", "-l", "200", "-timeout", "90s", target], cwd);
    return { register, calls };
  } finally {
    for (const u of uases) u.kill("SIGKILL");
  }
}

function bindingMemory(): number {
  v8.setFlagsFromString("--expose-gc");
  const gc = vm.runInNewContext("gc") as () => void;
  const flow: Flow = { id: "udp:x", transport: "udp", local: { address: "10.0.0.1", port: 5060 }, remote: { address: "192.0.2.1", port: 5060 }, reliable: false, send: () => true, closed: false };
  const reg = new Registrar();
  const requests: SipRequest[] = [];
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
  if (reg.store.size !== n || requests.length !== 0) throw new Error("binding count mismatch");
  return (after - before) / n;
}

export async function run(): Promise<BenchResult[]> {
  const dir = mkdtempSync(join(tmpdir(), "thor-bench-sip-"));
  const procs: ChildProcess[] = [];
  try {
    const users = Array.from({ length: USERS }, (_, i) => ({ u: `u${i}`, p: `u${i}-secret` }));
    writeFileSync(join(dir, "users.toml"), users.map(({ u, p }) => `[[users]]\nusername = "${u}"\npassword = "${p}"\n`).join("\n"));
    writeFileSync(join(dir, "callees.csv"), "SEQUENTIAL\n" + Array.from({ length: UASES }, (_, i) => `u${i + 1}`).join("\n") + "\n");
    writeFileSync(join(dir, "users.csv"), "SEQUENTIAL\n" + users.map(({ u, p }) => `${u};[authentication username=${u} password=${p}]`).join("\n") + "\n");
    // db_text reads every file of its directory as a table: keep it apart.
    const db = join(dir, "db");
    mkdirSync(db);
    writeFileSync(join(db, "version"), "table_name(str) table_version(int)\nsubscriber:7\nlocation:9\n");
    writeFileSync(join(db, "subscriber"), "id(int,auto) username(str) domain(str) password(str) ha1(str,null) ha1b(str,null)\n" + users.map(({ u, p }, i) => `${i + 1}:${u}:example.test:${p}:::`).join("\n") + "\n");
    const cfg = readFileSync(join(ROOT, "bench/kamailio/kamailio.cfg.tmpl"), "utf8").replaceAll("@LISTEN@", `${NET}.2:5060`).replaceAll("@DB@", db).replaceAll("@CHILDREN@", "1");
    writeFileSync(join(dir, "kamailio.cfg"), cfg);

    // Both servers run side by side and are measured in turn, ROUNDS times: other load
    // on the machine comes and goes, and alternating spreads it over both.
    const thor = spawn(process.execPath, [BIN, "sip", "--domain", "example.test", "--listen", `udp:${NET}.1:5060`, "--users", join(dir, "users.toml"), "--algorithms", "MD5", "--rate", "10000000", "--log-level", "warn", "--log-format", "json"], { stdio: "ignore" });
    procs.push(thor);
    const kamLog = openSync(join(dir, "kamailio.log"), "w");
    const kam = spawn("kamailio", ["-f", join(dir, "kamailio.cfg"), "-DD", "-E", "-w", dir, "-m", "512", "-M", "32"], { stdio: ["ignore", kamLog, kamLog] });
    procs.push(kam);
    // The same server with metrics on, scraped once a second while it runs.
    const thorMetrics = spawn(process.execPath, [BIN, "sip", "--domain", "example.test", "--listen", `udp:${NET}.3:5060`, "--users", join(dir, "users.toml"), "--algorithms", "MD5", "--rate", "10000000", "--log-level", "warn", "--log-format", "json", "--metrics-listen", `${NET}.3:9100`], { stdio: "ignore" });
    procs.push(thorMetrics);
    let scrapes = 0;
    const scraper = setInterval(() => void fetch(`http://${NET}.3:9100/metrics`).then((r) => r.text()).then(() => scrapes++, () => undefined), 1000);
    const withMetrics: Array<{ register: SippStats; calls: SippStats }> = [];
    const ours: Array<{ register: SippStats; calls: SippStats }> = [];
    const theirs: Array<{ register: SippStats; calls: SippStats }> = [];
    for (let round = 0; round < ROUNDS; round++) {
      ours.push(await measure("thor", `${NET}.1:5060`, 10, dir));
      withMetrics.push(await measure("thor+metrics", `${NET}.3:5060`, 30, dir));
      theirs.push(await measure("kamailio", `${NET}.2:5060`, 20, dir));
    }
    clearInterval(scraper);
    thor.kill("SIGTERM");
    thorMetrics.kill("SIGTERM");
    kam.kill("SIGTERM");

    const rate = (s: SippStats) => s.ok / s.seconds;
    /** The round with the median rate. */
    const median = (runs: SippStats[]) => [...runs].sort((a, b) => rate(a) - rate(b))[Math.floor(runs.length / 2)]!;
    const note = (runs: SippStats[]) => {
      const m = median(runs);
      return `${m.ok} ok, ${m.failed} failed in ${m.seconds.toFixed(1)} s; rounds ${runs.map((r) => Math.round(rate(r))).join(", ")}/s`;
    };
    const reg = { ours: ours.map((r) => r.register), theirs: theirs.map((r) => r.register) };
    const calls = { ours: ours.map((r) => r.calls), theirs: theirs.map((r) => r.calls) };
    return [
      { name: `REGISTER with digest auth (UDP, SIPp, 400 in flight, median of ${ROUNDS})`, value: rate(median(reg.ours)), unit: "registrations/s", baseline: { name: "Kamailio 5.6, 1 worker", value: rate(median(reg.theirs)) }, note: `thor ${note(reg.ours)}; Kamailio ${note(reg.theirs)}` },
      { name: `calls through the proxy with auth (UDP, SIPp, 200 in flight, ${UASES} callee UASes, median of ${ROUNDS})`, value: rate(median(calls.ours)), unit: "calls/s", baseline: { name: "Kamailio 5.6, 1 worker", value: rate(median(calls.theirs)) }, note: `thor ${note(calls.ours)}; Kamailio ${note(calls.theirs)}` },
      { name: `REGISTER with metrics on (--metrics-listen, scraped every 1 s, median of ${ROUNDS})`, value: rate(median(withMetrics.map((r) => r.register))), unit: "registrations/s", baseline: { name: "thor, metrics off", value: rate(median(reg.ours)) }, note: `${note(withMetrics.map((r) => r.register))}; ${scrapes} scrapes` },
      { name: `calls with metrics on (--metrics-listen, scraped every 1 s, median of ${ROUNDS})`, value: rate(median(withMetrics.map((r) => r.calls))), unit: "calls/s", baseline: { name: "thor, metrics off", value: rate(median(calls.ours)) }, note: note(withMetrics.map((r) => r.calls)) },
      { name: "heap per registered binding at 100k bindings", value: bindingMemory(), unit: "bytes", note: "location store after 100k REGISTERs, measured in process after GC" },
    ];
  } finally {
    for (const p of procs) p.kill("SIGKILL");
    if (process.env["THOR_BENCH_DEBUG"]) process.stderr.write(`kept ${dir}\n`);
    else rmSync(dir, { recursive: true, force: true });
  }
}
