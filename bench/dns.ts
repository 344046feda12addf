/**
 * Authoritative DNS throughput: `thor dns` (its engine and UDP server, one
 * Node process) against Knot DNS 3.2 (Debian `knot`, one UDP worker) serving
 * the equivalent static zone (written from our own zone), same machine, same
 * run, both pinned to one core with `taskset`, driven by the same load
 * generator (`dnsperf`, on the other core) with the same query mix:
 * NAPTR at the apex, SRV `_sip._udp`/`_sip._tcp`/`_sips._tcp`, A of members.
 * Knot answers the full RRsets; thor answers random slices of 3 (its
 * default), so its answers are shorter but each one is built per query.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { cpus, tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { sleep } from "../src/base/index.js";
import type { BenchResult } from "./types.js";

const SERVER = fileURLToPath(new URL("./dns-server.js", import.meta.url));
const THOR = "127.0.21.240";
const KNOT = "127.0.21.241";
const CONSTANT = "127.0.21.242";
const PORT = 5300;
const MEMBERS = 10;
const SLICE = 3;
const SECONDS = 5;
/** Rounds per server, alternated; the best round counts (the machine may be shared). */
const ROUNDS = 2;

function exec(cmd: string, args: string[], timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => execFile(cmd, args, { timeout: timeoutMs, maxBuffer: 8 << 20 }, (err, stdout, stderr) => (err ? reject(new Error(`${cmd}: ${err.message} ${stderr}`)) : resolve(stdout + stderr))));
}

async function waitAnswer(host: string): Promise<void> {
  for (let i = 0; i < 100; i++) {
    try {
      const out = await exec("dig", [`@${host}`, "-p", String(PORT), "+short", "+time=1", "+tries=1", "_sip._udp.example.com", "SRV"], 3000);
      if (out.trim().split("\n").length >= SLICE) return;
    } catch {
      // not up yet
    }
    await sleep(100);
  }
  throw new Error(`${host}:${PORT} did not come up`);
}

interface PerfResult {
  qps: number;
  lost: number;
  latencyMs: number;
}

async function dnsperf(host: string, queries: string, cores: string): Promise<PerfResult> {
  const out = await exec("taskset", ["-c", cores, "dnsperf", "-s", host, "-p", String(PORT), "-d", queries, "-l", String(SECONDS), "-c", "4", "-T", "1", "-q", "200", "-t", "2"], (SECONDS + 20) * 1000);
  const num = (re: RegExp) => Number(re.exec(out)?.[1] ?? NaN);
  return { qps: num(/Queries per second:\s+([\d.]+)/), lost: num(/Queries lost:\s+(\d+)/), latencyMs: num(/Average Latency \(s\):\s+([\d.]+)/) * 1000 };
}

export async function run(): Promise<BenchResult[]> {
  const dir = mkdtempSync(join(tmpdir(), "thor-bench-dns-"));
  const procs: ChildProcess[] = [];
  const multi = cpus().length > 1;
  const serverCore = multi ? "1" : "0";
  const clientCore = "0";
  try {
    const zoneFile = join(dir, "example.com.zone");
    const queries = join(dir, "queries.txt");
    const mix = ["example.com NAPTR", "_sip._udp.example.com SRV", "_sip._tcp.example.com SRV", "_sips._tcp.example.com SRV", ...Array.from({ length: MEMBERS }, (_, i) => `node${i + 1}.example.com A`)];
    writeFileSync(queries, mix.join("\n") + "\n");

    const thor = spawn("taskset", ["-c", serverCore, process.execPath, SERVER, THOR, String(PORT), String(MEMBERS), String(SLICE), zoneFile], { stdio: ["ignore", "pipe", "inherit"] });
    procs.push(thor);
    await waitAnswer(THOR);

    writeFileSync(
      join(dir, "knot.conf"),
      [
        "server:",
        `    rundir: "${dir}"`,
        `    pidfile: "${dir}/knot.pid"`,
        `    listen: ${KNOT}@${PORT}`,
        "    udp-workers: 1",
        "    tcp-workers: 1",
        "    background-workers: 1",
        "control:",
        `    listen: "${dir}/knot.sock"`,
        "log:",
        "  - target: stderr",
        "    any: warning",
        "database:",
        `    storage: "${dir}"`,
        "zone:",
        "  - domain: example.com",
        `    file: "${zoneFile}"`,
        `    storage: "${dir}"`,
        "    journal-content: none",
        "    zonefile-sync: -1",
        "",
      ].join("\n"),
    );
    const knot = spawn("taskset", ["-c", serverCore, "knotd", "-c", join(dir, "knot.conf")], { stdio: ["ignore", "ignore", "pipe"] });
    let knotErr = "";
    knot.stderr?.setEncoding("utf8").on("data", (c: string) => (knotErr += c));
    procs.push(knot);
    await waitAnswer(KNOT).catch((err: unknown) => {
      throw new Error(`${String(err)}; knotd: ${knotErr}; zone:\n${readFileSync(zoneFile, "utf8").slice(0, 500)}`);
    });

    const constant = spawn("taskset", ["-c", serverCore, process.execPath, SERVER, CONSTANT, String(PORT), "0", "0", "", "constant"], { stdio: ["ignore", "pipe", "inherit"] });
    procs.push(constant);
    for (let i = 0; i < 100 && (await exec("dig", [`@${CONSTANT}`, "-p", String(PORT), "+short", "+time=1", "+tries=1", "node1.example.com", "A"], 3000).catch(() => "")).trim() === ""; i++) await sleep(100);

    // The servers idle on the same core while another is measured; rounds alternate.
    const best = (a: PerfResult | undefined, b: PerfResult) => (a && a.qps >= b.qps ? a : b);
    let ours: PerfResult | undefined;
    let theirs: PerfResult | undefined;
    let floor: PerfResult | undefined;
    for (let i = 0; i < ROUNDS; i++) {
      ours = best(ours, await dnsperf(THOR, queries, clientCore));
      theirs = best(theirs, await dnsperf(KNOT, queries, clientCore));
      floor = best(floor, await dnsperf(CONSTANT, queries, clientCore));
    }
    constant.kill("SIGTERM");
    thor.kill("SIGTERM");
    knot.kill("SIGTERM");
    if (!ours || !theirs || !floor) throw new Error("no measurement");

    const where = multi ? "server on core 1, dnsperf on core 0" : "server and dnsperf share the only core";
    return [
      {
        name: `UDP queries, NAPTR/SRV/A mix, ${MEMBERS} sip_proxy members, slices of ${SLICE}`,
        value: ours.qps,
        unit: "queries/s",
        baseline: { name: "Knot DNS 3.2, 1 UDP worker, full RRsets", value: theirs.qps },
        note: `${where}; dnsperf 4 clients, 200 in flight, best of ${ROUNDS} alternated rounds of ${SECONDS} s; avg latency thor ${ours.latencyMs.toFixed(2)} ms, Knot ${theirs.latencyMs.toFixed(2)} ms; lost thor ${ours.lost}, Knot ${theirs.lost}`,
      },
      {
        name: "same load, thor dns against a bare Node UDP socket answering a constant",
        value: ours.qps,
        unit: "queries/s",
        baseline: { name: "Node dgram, fixed answer", value: floor.qps },
        note: "the share of Node's own UDP I/O in the figure above",
      },
    ];
  } finally {
    for (const p of procs) p.kill("SIGKILL");
    rmSync(dir, { recursive: true, force: true });
  }
}
