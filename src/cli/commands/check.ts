/**
 * `thor check network|node|dns|database`: checks for Nagios, Icinga and
 * other monitoring-plugins hosts. One status line with performance data on
 * stdout, exit 0 OK / 1 WARNING / 2 CRITICAL / 3 UNKNOWN, thresholds as
 * `-w`/`-c` ranges (monitor/nagios.ts). Every probe is bounded by
 * `--timeout-ms`.
 */
import { randomBytes } from "node:crypto";
import { createSocket } from "node:dgram";
import type { Command } from "commander";
import dnsPacket from "dns-packet";
import { z } from "zod";
import { sleep, silentLogger, systemClock } from "../../base/index.js";
import { openDatabase, pingDatabase } from "../../db/index.js";
import { redactUri } from "../../base/index.js";
import {
  CRITICAL,
  NetworkView,
  OK,
  UNKNOWN,
  WARNING,
  formatStatusLine,
  parseRange,
  statusOf,
  worst,
  type PerfDatum,
  type PluginStatus,
  type Range,
} from "../../monitor/index.js";
import { queryLookup } from "../../overlay/index.js";
import { list, num } from "../config.js";
import { connectEvents, eventServerSource, loadIdentity, loadMemberConfig, memberFlags, memberSchema } from "../member.js";

/** @default 10 s */
export const DEFAULT_CHECK_TIMEOUT_MS = 10_000;

interface Result {
  service: string;
  status: PluginStatus;
  text: string;
  perf?: PerfDatum[];
}

function emit(r: Result): void {
  process.stdout.write(formatStatusLine(r.service, r.status, r.text, r.perf ?? []) + "\n");
  process.exitCode = r.status;
}

/** Run a check; a usage or unexpected error is UNKNOWN (exit 3), as the guidelines ask. */
async function run(service: string, fn: () => Promise<Result>): Promise<void> {
  try {
    emit(await fn());
  } catch (err) {
    emit({ service, status: UNKNOWN, text: err instanceof Error ? err.message : String(err) });
  }
}

const range = (text: unknown): Range | undefined => (typeof text === "string" && text !== "" ? parseRange(text) : undefined);
const seconds = (ms: number): number => Math.round(ms) / 1000;

// ---------------------------------------------------------------- network

const networkSchema = memberSchema.extend({
  roles: list(z.string()).default(["sip_proxy"]),
  timeoutMs: num().int().min(100).default(DEFAULT_CHECK_TIMEOUT_MS),
});

async function checkNetwork(flags: Record<string, unknown>): Promise<Result> {
  const { warning: w, critical: c, ...rest } = flags;
  const warning = range(w);
  const critical = range(c) ?? parseRange("1:");
  const cfg = loadMemberConfig(networkSchema, "check", { name: "monitor", ...rest });
  const identity = await loadIdentity(cfg);
  const bus = await connectEvents(cfg, eventServerSource(cfg), identity, silentLogger);
  const view = new NetworkView(systemClock);
  view.attach(bus);
  try {
    const deadline = Date.now() + cfg.timeoutMs;
    while ((!view.snapshot || !view.activeManager()) && Date.now() < deadline) await sleep(50);
    const snap = view.snapshot;
    const active = view.activeManager();
    const perf: PerfDatum[] = [{ label: "members", value: snap?.members.length ?? 0, min: 0 }, { label: "event_servers_up", value: bus.upCount, min: 0, max: bus.status().length }];
    if (!active || !snap) {
      return { service: "THOR NETWORK", status: CRITICAL, text: !snap ? "no active manager: no membership snapshot" : "no active manager heartbeat", perf };
    }
    const states: PluginStatus[] = [];
    const parts: string[] = [];
    for (const role of cfg.roles) {
      const n = view.roleMap.ring(role)?.nodes.length ?? 0;
      const s = statusOf(n, warning, critical);
      states.push(s);
      parts.push(`${role} ${n} node${n === 1 ? "" : "s"}`);
      perf.push({ label: role, value: n, ...(warning ? { warning } : {}), critical, min: 0 });
    }
    const draining = snap.members.filter((m) => m.attrs["draining"] === true).length;
    return { service: "THOR NETWORK", status: worst(...states), text: `active manager ${active.id} (term ${active.term}), ${snap.members.length} members, ${parts.join(", ")}${draining ? `, ${draining} draining` : ""}`, perf };
  } finally {
    await bus.close(500);
    identity.close();
  }
}

// ---------------------------------------------------------------- node

/** Send one SIP OPTIONS over UDP; resolves with the status code of the first final (or any) response. */
export function sipOptions(host: string, port: number, timeoutMs: number): Promise<{ status: number; ms: number }> {
  return new Promise((resolve, reject) => {
    const sock = createSocket(host.includes(":") ? "udp6" : "udp4");
    const t0 = performance.now();
    const timer = setTimeout(() => done(new Error(`no SIP answer from ${host}:${port} within ${timeoutMs} ms`)), timeoutMs);
    const done = (err: Error | undefined, status?: number) => {
      clearTimeout(timer);
      sock.close();
      if (err) reject(err);
      else resolve({ status: status!, ms: performance.now() - t0 });
    };
    sock.on("error", (err) => done(err));
    sock.on("message", (msg) => {
      const m = /^SIP\/2\.0 (\d{3}) /.exec(msg.toString("latin1", 0, 64));
      if (m && Number(m[1]) >= 200) done(undefined, Number(m[1]));
    });
    sock.bind(0, () => {
      const local = sock.address();
      const tag = randomBytes(6).toString("hex");
      const uri = `sip:${host.includes(":") ? `[${host}]` : host}:${port}`;
      const via = `${local.address === "0.0.0.0" ? "127.0.0.1" : local.address}:${local.port}`;
      const text = [
        `OPTIONS ${uri} SIP/2.0`,
        `Via: SIP/2.0/UDP ${via};branch=z9hG4bK${tag};rport`,
        "Max-Forwards: 0",
        `From: <sip:thor-check@invalid>;tag=${tag}`,
        `To: <${uri}>`,
        `Call-ID: ${tag}@thor-check`,
        "CSeq: 1 OPTIONS",
        "User-Agent: thor-check",
        "Content-Length: 0",
        "",
        "",
      ].join("\r\n");
      sock.send(text, port, host);
    });
  });
}

const nodeSchema = z.object({
  sipPort: num().int().min(0).max(65535).default(5060),
  lookupPort: num().int().min(0).max(65535).default(9500),
  timeoutMs: num().int().min(100).default(DEFAULT_CHECK_TIMEOUT_MS),
});

async function checkNode(host: string, flags: Record<string, unknown>): Promise<Result> {
  const opts = nodeSchema.parse(flags);
  const warning = range(flags["warning"]);
  const critical = range(flags["critical"]);
  const perf: PerfDatum[] = [];
  const problems: string[] = [];
  const states: PluginStatus[] = [];
  const ok: string[] = [];
  if (opts.sipPort > 0) {
    try {
      const r = await sipOptions(host, opts.sipPort, opts.timeoutMs);
      const s = seconds(r.ms);
      states.push(statusOf(s, warning, critical));
      perf.push({ label: "sip_time", value: s, uom: "s", ...(warning ? { warning } : {}), ...(critical ? { critical } : {}), min: 0 });
      ok.push(`SIP OPTIONS answered ${r.status} in ${s} s`);
    } catch (err) {
      states.push(CRITICAL);
      problems.push(`SIP: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
  if (opts.lookupPort > 0) {
    const t0 = performance.now();
    try {
      const [answer] = await queryLookup(host, opts.lookupPort, [`is_online ${host} as sip_proxy`], opts.timeoutMs);
      const s = seconds(performance.now() - t0);
      states.push(statusOf(s, warning, critical));
      perf.push({ label: "lookup_time", value: s, uom: "s", ...(warning ? { warning } : {}), ...(critical ? { critical } : {}), min: 0 });
      ok.push(`lookup answered "${answer}" in ${s} s`);
    } catch (err) {
      states.push(CRITICAL);
      problems.push(`lookup: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
  if (states.length === 0) return { service: "THOR NODE", status: UNKNOWN, text: "nothing to check: both --sip-port and --lookup-port are 0" };
  return { service: "THOR NODE", status: worst(...states), text: `${host}: ${[...problems, ...ok].join(", ")}`, perf };
}

// ---------------------------------------------------------------- dns

const RCODE_NAMES = ["NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP", "REFUSED"];

/** Ask `server` for the SRV records of `name` over UDP; the distinct targets. */
export function srvTargets(server: { host: string; port: number }, name: string, timeoutMs: number): Promise<{ targets: string[]; rcode: string; ms: number }> {
  return new Promise((resolve, reject) => {
    const sock = createSocket(server.host.includes(":") ? "udp6" : "udp4");
    const id = randomBytes(2).readUInt16BE(0);
    const t0 = performance.now();
    const timer = setTimeout(() => done(new Error(`no DNS answer from ${server.host}:${server.port} within ${timeoutMs} ms`)), timeoutMs);
    const done = (err: Error | undefined, out?: { targets: string[]; rcode: string }) => {
      clearTimeout(timer);
      sock.close();
      if (err) reject(err);
      else resolve({ ...out!, ms: performance.now() - t0 });
    };
    sock.on("error", (err) => done(err));
    sock.on("message", (msg) => {
      try {
        const p = dnsPacket.decode(msg);
        if (p.id !== id) return;
        const targets = new Set<string>();
        for (const a of p.answers ?? []) if (a.type === "SRV") targets.add((a.data as { target: string }).target.toLowerCase());
        const rcode = msg.length >= 4 ? msg.readUInt16BE(2) & 0xf : 0;
        done(undefined, { targets: [...targets].sort(), rcode: RCODE_NAMES[rcode] ?? `RCODE${rcode}` });
      } catch {
        // Not a DNS answer: keep waiting until the deadline.
      }
    });
    sock.send(dnsPacket.encode({ type: "query", id, flags: 0, questions: [{ type: "SRV", name }] }), server.port, server.host);
  });
}

async function checkDns(serverText: string, flags: Record<string, unknown>): Promise<Result> {
  const m = /^(?:\[([^\]]+)\]|([^:]+))(?::(\d+))?$/.exec(serverText);
  if (!m) throw new Error(`server must be host[:port], got "${serverText}"`);
  const server = { host: m[1] ?? m[2]!, port: m[3] ? Number(m[3]) : 53 };
  const domain = String(flags["domain"] ?? "");
  if (!domain) throw new Error("give --domain, the platform's SIP domain");
  const service = String(flags["service"] ?? "_sip._udp");
  const timeoutMs = Number(flags["timeoutMs"] ?? DEFAULT_CHECK_TIMEOUT_MS);
  const warning = range(flags["warning"]);
  const critical = range(flags["critical"]) ?? parseRange("1:");
  const name = `${service}.${domain}`;
  try {
    const r = await srvTargets(server, name, timeoutMs);
    const n = r.targets.length;
    const status = r.rcode !== "NOERROR" ? CRITICAL : statusOf(n, warning, critical);
    return {
      service: "THOR DNS",
      status,
      text: `${name} SRV: ${n} live node${n === 1 ? "" : "s"} (${r.rcode})${n ? ` ${r.targets.join(" ")}` : ""}`,
      perf: [
        { label: "targets", value: n, ...(warning ? { warning } : {}), critical, min: 0 },
        { label: "time", value: seconds(r.ms), uom: "s", min: 0 },
      ],
    };
  } catch (err) {
    return { service: "THOR DNS", status: CRITICAL, text: err instanceof Error ? err.message : String(err) };
  }
}

// ---------------------------------------------------------------- database

async function checkDatabase(flags: Record<string, unknown>): Promise<Result> {
  const uris = list(z.string().min(1)).parse(flags["dburis"] ?? "");
  if (uris.length === 0) throw new Error("give --dburis, primary first (sqlite:///path or postgres://user@host/db)");
  const timeoutMs = Number(flags["timeoutMs"] ?? DEFAULT_CHECK_TIMEOUT_MS);
  const warning = range(flags["warning"]);
  const critical = range(flags["critical"]);
  const results = await Promise.all(
    uris.map(async (uri, i) => {
      const db = openDatabase(uri, { connectTimeoutMs: timeoutMs, poolSize: 1 });
      try {
        const ms = await pingDatabase(db, timeoutMs);
        return { uri, i, up: true as const, s: seconds(ms) };
      } catch (err) {
        return { uri, i, up: false as const, why: err instanceof Error ? err.message.slice(0, 120) : String(err) };
      } finally {
        await db.close().catch(() => undefined);
      }
    }),
  );
  const name = (r: { i: number }) => (r.i === 0 ? "primary" : `secondary${uris.length > 2 ? r.i : ""}`);
  const perf: PerfDatum[] = results.map((r) => ({ label: `${name(r)}_time`, value: r.up ? r.s : 0, uom: "s", ...(warning ? { warning } : {}), ...(critical ? { critical } : {}), min: 0 }));
  const text = results.map((r) => `${name(r)} ${redactUri(r.uri)} ${r.up ? `up (${r.s} s)` : `DOWN: ${r.why}`}`).join(", ");
  const primary = results[0]!;
  const serving = results.filter((r) => r.up);
  let status: PluginStatus;
  if (primary.up) status = statusOf(primary.s, warning, critical);
  else status = serving.length > 0 ? WARNING : CRITICAL;
  if (!primary.up && serving.length > 0) return { service: "THOR DATABASE", status, text: `primary down, a secondary serves reads: ${text}`, perf };
  return { service: "THOR DATABASE", status: status === OK && serving.length < results.length ? WARNING : status, text, perf };
}

// ---------------------------------------------------------------- command

const thresholds = (cmd: Command): Command => cmd.option("-w, --warning <range>", "warning threshold range (monitoring-plugins syntax)").option("-c, --critical <range>", "critical threshold range").option("--timeout-ms <ms>", `give up after this long (default ${DEFAULT_CHECK_TIMEOUT_MS})`);

export function register(program: Command): void {
  const check = program.command("check").description("monitoring-plugins checks (Nagios, Icinga): one status line with perfdata, exit 0 OK / 1 WARNING / 2 CRITICAL / 3 UNKNOWN");
  thresholds(memberFlags(check.command("network").description("an active manager, and nodes per role against -w/-c (default -c 1:); connects as --name (default monitor)")))
    .option("--roles <list>", "roles whose ring size is checked (default sip_proxy)")
    .action((flags: Record<string, unknown>) => run("THOR NETWORK", () => checkNetwork(flags)));
  thresholds(check.command("node <host>").description("a node answers SIP OPTIONS and its lookup port; -w/-c on response time in seconds"))
    .option("--sip-port <port>", "SIP UDP port (default 5060, 0 = skip)")
    .option("--lookup-port <port>", "lookup port (default 9500, 0 = skip)")
    .action((host: string, flags: Record<string, unknown>) => run("THOR NODE", () => checkNode(host, flags)));
  thresholds(check.command("dns <server>").description("thor dns hands out live nodes: SRV targets of <service>.<domain> against -w/-c (default -c 1:)"))
    .option("--domain <domain>", "the platform's SIP domain")
    .option("--service <label>", "service label (default _sip._udp)")
    .action((server: string, flags: Record<string, unknown>) => run("THOR DNS", () => checkDns(server, flags)));
  thresholds(check.command("database").description("primary up (OK), down with a secondary serving (WARNING), none (CRITICAL); -w/-c on the primary's response time in seconds"))
    .option("--dburis <list>", "database URIs, primary first")
    .action((flags: Record<string, unknown>) => run("THOR DATABASE", () => checkDatabase(flags)));
}
