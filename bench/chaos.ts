/**
 * Chaos (issue 15): a 5-node network of real processes on loopback
 * (127.0.62.0/24) with subscribers in the provisioning database, 50 users
 * registered through node1 and a steady stream of authenticated calls from
 * alice through node2, one fault at a time:
 *   - restart a node (SIGTERM, start again at once);
 *   - SIGKILL the edge node the callees registered through;
 *   - SIGKILL two nodes at once;
 *   - stop every event server for 20 s, and block an account meanwhile.
 * For each window: calls failed, the longest call set-up, registrations lost
 * (bindings held vs users × replicas), and for the outage how long a block
 * took to take effect. Goal: 0 failed, 0 lost. `npm run bench -- chaos`.
 */
import { createSocket } from "node:dgram";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { sleep } from "../src/base/index.js";
import { issueLabCertificates, planLab } from "../src/cli/lab.js";
import { ProvisioningClient } from "../src/provisioning/index.js";
import { computeHa1, digestResponse } from "../src/sip/index.js";
import { startBenchLab, until, type BenchLab } from "./lab-run.js";
import { runSippStats, type SippStats } from "./sipp-run.js";
import type { BenchResult } from "./types.js";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const SCENARIOS = join(ROOT, "test/sip/scenarios");
const SUBNET = "127.0.62";
const DOMAIN = "example.com";
const USERS = 50;
const REPLICAS = 3;
/** Calls per second of the steady load, and seconds of each window. */
const RATE = 5;
const WINDOW_S = 25;
const users = Array.from({ length: USERS }, (_, i) => `c${i}`);
const pw = (u: string) => `${u}-secret`;
const UAS = `${SUBNET}.200`;

interface Window {
  name: string;
  calls: SippStats;
  lost: number;
  note?: string;
}

export async function run(): Promise<BenchResult[]> {
  const dir = mkdtempSync(join(tmpdir(), "thor-bench-chaos-"));
  const plan = planLab({ dir, subnet: SUBNET, fast: true, eventServers: 3, managers: 2, subscribers: "database", nodes: [["sip_proxy", "provisioning_server"], ["sip_proxy"], ["sip_proxy"], ["sip_proxy"], ["sip_proxy"]] });
  await issueLabCertificates(plan);
  const nodeArgs = ["--sip-rate", "100000", "--replicas", String(REPLICAS), "--statistics-interval-ms", "1000", "--log-level", "warn"];
  const lab = await startBenchLab(plan, (m) => (m.kind === "node" ? nodeArgs : []));
  let uasPid: number | undefined;
  const uas = runSippStats(["-sf", join(SCENARIOS, "uas.xml"), "-i", UAS, "-p", "6000", "-m", "100000", "-timeout", "900s"], dir, { limitMs: 900_000, onSpawn: (pid) => (uasPid = pid) });
  const windows: Window[] = [];
  try {
    await until(() => (lab.view.snapshot?.members.length ?? 0) === 5, 60_000, "5 nodes up");
    const api = new ProvisioningClient({ url: plan.provisioning!.url, token: plan.provisioning!.token });
    await retry(() => api.createDomain({ name: DOMAIN }), 30_000);
    await api.importAll({ accounts: [{ username: "alice", domain: DOMAIN, password: "alice-secret" }, ...users.map((u) => ({ username: u, domain: DOMAIN, password: pw(u) }))] });
    // The nodes load the new accounts (change notice or log), then every user registers through node1.
    for (let last = 0, deadline = Date.now() + 30_000; last !== 200; await sleep(250)) {
      last = await registerOnce(`${SUBNET}.11`, nodeIp(lab, "node1"), "c0").catch(() => 0);
      if (Date.now() > deadline) throw new Error(`bench: c0 cannot register through node1 (last answer ${last})`);
    }
    await registerAll(lab, dir);
    const held = () => total(lab, Date.now() - 1500);
    await until(() => held() === USERS * REPLICAS, 30_000, "every binding held");

    windows.push(await window("no fault", lab, dir, async () => undefined));
    windows.push(
      await window("restart node3 (SIGTERM, start)", lab, dir, async () => {
        await lab.proc("node3").stop("SIGTERM", 10_000);
        lab.start("node3", nodeArgs);
      }),
    );
    await settle(lab, 5, dir);
    windows.push(
      await window("SIGKILL node1 (the callees' edge)", lab, dir, async () => {
        await lab.proc("node1").stop("SIGKILL", 1000);
      }),
    );
    lab.start("node1", nodeArgs);
    await settle(lab, 5, dir);
    windows.push(
      await window("SIGKILL node4 and node5 together", lab, dir, async () => {
        await Promise.all([lab.proc("node4").stop("SIGKILL", 1000), lab.proc("node5").stop("SIGKILL", 1000)]);
      }),
    );
    lab.start("node4", nodeArgs);
    lab.start("node5", nodeArgs);
    await settle(lab, 5, dir);
    let blockMs = -1;
    let applied = "";
    windows.push(
      await window("all event servers stopped for 20 s; an account blocked meanwhile", lab, dir, async () => {
        const servers = plan.members.filter((m) => m.kind === "eventserver");
        await Promise.all(servers.map((s) => lab.proc(s.name).stop("SIGKILL", 1000)));
        await sleep(3000);
        const t0 = Date.now();
        const res = await api.raw("PATCH", `/v1/accounts/${encodeURIComponent(`c7@${DOMAIN}`)}`, JSON.stringify({ blocked: true }), { "content-type": "application/json", authorization: `Bearer ${plan.provisioning!.token}` });
        applied = `${res.status} ${String(res.headers["thor-change-applied"] ?? "?")}`;
        blockMs = await blockedWithin(`${SUBNET}.11`, nodeIp(lab, "node2"), "c7", 15_000).then((ok) => (ok ? Date.now() - t0 : -1));
        await sleep(Math.max(0, 20_000 - (Date.now() - t0) - 3000));
        for (const s of servers) lab.start(s.name);
      }),
    );
    const last = windows[windows.length - 1]!;
    last.note = `block took effect after ${blockMs < 0 ? "more than 15 s (not seen)" : `${blockMs} ms`}; API said ${applied}`;
  } finally {
    await lab.stop();
    if (uasPid !== undefined) process.kill(uasPid, "SIGKILL");
    await uas.catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  }
  return windows.flatMap((w) => [
    { name: `${w.name}: calls failed`, value: w.calls.failed, unit: "calls", note: `${w.calls.ok} ok; ${RATE} calls/s for ${WINDOW_S} s; ${w.calls.retransmissions} retransmissions${w.note ? `; ${w.note}` : ""}` },
    { name: `${w.name}: longest call set-up`, value: w.calls.maxRttMs ?? 0, unit: "ms", note: "INVITE → 200, SIPp rtd" },
    { name: `${w.name}: registrations lost`, value: w.lost, unit: "bindings", note: `of ${USERS} users × ${REPLICAS} replicas, counted after the window` },
  ]);
}

/** A window of steady calls with `fault` started 3 s in; then how many bindings are missing. */
async function window(name: string, lab: BenchLab, dir: string, fault: () => Promise<void>): Promise<Window> {
  process.stdout.write(`  window: ${name}\n`);
  const scenario = join(dir, "uac-csv.xml");
  writeFileSync(scenario, readFileSync(join(SCENARIOS, "uac.xml"), "utf8").split("[callee]").join("[field0]"));
  const inf = csv(dir, "callees.csv", Array.from({ length: RATE * WINDOW_S }, (_, i) => users[i % USERS]!));
  const node2 = lab.plan.members.find((m) => m.name === "node2")!;
  const calls = runSippStats(["-sf", scenario, "-inf", inf, "-au", "alice", "-ap", "alice-secret", "-key", "user", "alice", "-key", "domain", DOMAIN, "-i", `${SUBNET}.70`, "-p", "5080", "-m", String(RATE * WINDOW_S), "-r", String(RATE), "-l", "200", "-timeout", `${WINDOW_S + 60}s`, `${node2.ip}:5060`], dir, { rtt: true, limitMs: (WINDOW_S + 90) * 1000 });
  await sleep(3000);
  await fault();
  const result = await calls;
  await sleep(3000);
  return { name, calls: result, lost: Math.max(0, USERS * REPLICAS - total(lab, Date.now() - 1500)) };
}

/** Wait for `n` nodes and every binding held again (re-registering through node1 if the phones would have to). */
async function settle(lab: BenchLab, n: number, dir: string): Promise<void> {
  await until(() => lab.memberIds().length === n, 60_000, `${n} nodes back`);
  try {
    await until(() => total(lab, Date.now() - 1500) === USERS * REPLICAS, 15_000, "bindings restored");
  } catch {
    await registerAll(lab, dir);
    await until(() => total(lab, Date.now() - 1500) === USERS * REPLICAS, 30_000, "bindings restored after re-registering");
  }
}

function total(lab: BenchLab, since: number): number {
  let n = 0;
  for (const id of lab.memberIds()) {
    const r = lab.view.statistics.get(id);
    if (r && r.at > since) n += r.roles["sip_proxy"]?.["bindings"] ?? 0;
  }
  return n;
}

async function registerAll(lab: BenchLab, dir: string): Promise<void> {
  const node1 = lab.plan.members.find((m) => m.name === "node1")!;
  const r = await runSippStats(["-sf", join(SCENARIOS, "register-csv.xml"), "-inf", csv(dir, "reg.csv", users.map((u) => `${u};[authentication username=${u} password=${pw(u)}]`)), "-key", "domain", DOMAIN, "-key", "contact_host", `${UAS}:6000`, "-key", "expires", "3600", "-i", UAS, "-p", "5071", "-mp", "7000", "-m", String(USERS), "-r", "100", "-l", "20", "-timeout", "60s", `${node1.ip}:5060`], dir);
  if (r.ok !== USERS) throw new Error(`bench: ${r.ok} of ${USERS} registrations succeeded`);
}

const nodeIp = (lab: BenchLab, name: string) => lab.plan.members.find((m) => m.name === name)!.ip;

function csv(dir: string, name: string, rows: string[]): string {
  const f = join(dir, name);
  writeFileSync(f, "SEQUENTIAL\n" + rows.join("\n") + "\n");
  return f;
}

async function retry<T>(fn: () => Promise<T>, ms: number): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    try {
      return await fn();
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await sleep(250);
    }
  }
}

/** Whether a REGISTER of `user` through node2 is answered 403 (blocked) within `ms`; tried twice a second. */
async function blockedWithin(from: string, host: string, user: string, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    const status = await registerOnce(from, host, user).catch(() => 0);
    if (status === 403) return true;
    await sleep(500);
  }
  return false;
}

/** One digest REGISTER over UDP that removes its own contact (Expires: 0, so it leaves no binding); the final status. */
function registerOnce(from: string, host: string, user: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const sock = createSocket("udp4");
    const timer = setTimeout(() => {
      sock.close();
      reject(new Error("no answer"));
    }, 3000);
    let port = 0;
    const request = (cseq: number, auth: string) =>
      [`REGISTER sip:${DOMAIN} SIP/2.0`, `Via: SIP/2.0/UDP ${from}:${port};branch=z9hG4bKchaos${port}-${cseq};rport`, "Max-Forwards: 70", `From: <sip:${user}@${DOMAIN}>;tag=c${cseq}`, `To: <sip:${user}@${DOMAIN}>`, `Call-ID: chaos-${port}@${from}`, `CSeq: ${cseq} REGISTER`, `Contact: <sip:${user}@${from}:${port}>`, "Expires: 0", ...(auth ? [auth] : []), "Content-Length: 0", "", ""].join("\r\n");
    sock.on("message", (m) => {
      const text = m.toString("latin1");
      const status = Number(text.slice(8, 11));
      const nonce = /nonce="([^"]+)"/.exec(text)?.[1];
      if (status === 401 && nonce && !text.includes("CSeq: 2 ")) {
        const uri = `sip:${DOMAIN}`;
        const response = digestResponse("MD5", computeHa1("MD5", user, DOMAIN, pw(user)), nonce, "REGISTER", uri, { qop: "auth", nc: "00000001", cnonce: "c4a05" });
        sock.send(request(2, `Authorization: Digest username="${user}", realm="${DOMAIN}", nonce="${nonce}", uri="${uri}", response="${response}", algorithm=MD5, qop=auth, nc=00000001, cnonce="c4a05"`), 5060, host);
        return;
      }
      if (status >= 200) {
        clearTimeout(timer);
        sock.close();
        resolve(status);
      }
    });
    sock.bind(0, from, () => {
      port = sock.address().port;
      sock.send(request(1, ""), 5060, host);
    });
  });
}
