/**
 * Child process of the `scale` benchmark: many simulated members in one
 * process. Each is a real `NodeRuntime` with its own certificate (CN = its
 * id, its address in the IP SAN, roles sip_proxy and media_relay), its own
 * `EventClient` with one mutual-TLS link to every event server, and its own
 * membership feed. What makes them light is documented in docs/PERFORMANCE.md:
 * their roles are empty shells (a name, nothing started) and their rings have
 * `multiply` points per member (1 for the crowd; the default 1000 for the one
 * "full" member whose CPU and event-loop block are measured).
 *
 * Driven over IPC by bench/scale.ts: start/stop members, watch until every
 * running member's membership has (or lacks) an id, report CPU and the
 * longest event-loop block.
 */
import { monitorEventLoopDelay, PerformanceObserver } from "node:perf_hooks";
import { join } from "node:path";
import { silentLogger } from "../src/base/index.js";
import { EventClient, parseEndpoint } from "../src/events/index.js";
import { NodeRuntime, type Role } from "../src/node/index.js";
import { TlsIdentity } from "../src/pki/index.js";

export interface SimConfig {
  caDir: string;
  servers: string[];
  multiply: number;
  members: Array<{ name: string; ip: string }>;
}

export type SimCommand =
  | { cmd: "start"; names: string[] }
  | { cmd: "stop"; names: string[] }
  | { cmd: "watch"; id: string; present: boolean }
  | { cmd: "stats" }
  | { cmd: "exit" };

export type SimReport =
  | { ev: "ready" }
  | { ev: "started"; count: number }
  | { ev: "stopped"; count: number }
  | { ev: "seen"; id: string; present: boolean; at: number }
  | { ev: "stats"; cpuUs: number; elMaxMs: number; rssMb: number; applyUs: number[]; applyWallMs: number[]; gcMaxMs: number };

const shell = (name: string): Role => ({ name, start: async () => {}, stop: async () => {} });

interface Sim {
  runtime: NodeRuntime;
  bus: EventClient;
}

const config = JSON.parse(process.argv[2] ?? "{}") as SimConfig;
const byName = new Map(config.members.map((m) => [m.name, m]));
const running = new Map<string, Sim>();
const identities = new Map<string, TlsIdentity>();
const watches = new Map<string, { present: boolean; done: Set<string> }>();
/** CPU µs spent applying each delta (feed, rings, listeners), since the last stats report. */
let applyUs: number[] = [];
/** Wall time of the same (the synchronous block it causes, preemption by other processes included). */
let applyWallMs: number[] = [];
/** Longest garbage-collection pause since the last stats report. */
let gcMaxMs = 0;
new PerformanceObserver((list) => {
  for (const e of list.getEntries()) gcMaxMs = Math.max(gcMaxMs, e.duration);
}).observe({ entryTypes: ["gc"] });
const cpuUs = () => {
  const c = process.cpuUsage();
  return c.user + c.system;
};
const eld = monitorEventLoopDelay({ resolution: 1 });
eld.enable();

function send(r: SimReport): void {
  process.send?.(r);
}

function has(sim: Sim, id: string): boolean {
  return sim.runtime.currentSnapshot()?.members.some((m) => m.id === id) ?? false;
}

function checkWatches(name: string | undefined): void {
  for (const [id, w] of watches) {
    for (const [n, sim] of running) if ((name === undefined || n === name) && has(sim, id) === w.present) w.done.add(n);
    if ([...running.keys()].every((n) => w.done.has(n))) {
      watches.delete(id);
      send({ ev: "seen", id, present: w.present, at: Date.now() });
    }
  }
}

async function start(name: string): Promise<void> {
  const m = byName.get(name);
  if (!m || running.has(name)) return;
  let identity = identities.get(name);
  if (!identity) {
    identity = await TlsIdentity.load({ ca: join(config.caDir, "ca.crt"), cert: join(config.caDir, "certs", `${name}.crt`), key: join(config.caDir, "certs", `${name}.key`) });
    identities.set(name, identity);
  }
  const bus = new EventClient({ identity, logger: silentLogger, servers: config.servers.map((s) => parseEndpoint(s)), reconnectMaxMs: 2000 });
  const runtime = new NodeRuntime({ bus, logger: silentLogger, id: name, ip: m.ip, version: "bench", roles: [shell("sip_proxy"), shell("media_relay")], ringMultiply: config.multiply });
  const sim = { runtime, bus };
  running.set(name, sim);
  runtime.onMembership(() => checkWatches(name));
  // CPU of applying membership: a handler before the feed's and one after it (handlers run in subscription order).
  let c0 = 0;
  let t0 = 0;
  bus.subscribe("Thor.Members", () => {
    c0 = cpuUs();
    t0 = performance.now();
  });
  await bus.start();
  // Start announcing once a link is up, so a join measures the membership path, not a presence dropped before any link was up.
  for (const t0 = Date.now(); bus.upCount === 0 && Date.now() - t0 < 10_000; ) await new Promise((r) => setTimeout(r, 20));
  await runtime.start();
  bus.subscribe("Thor.Members", (m) => {
    if (m.kind === "delta") {
      applyUs.push(cpuUs() - c0);
      applyWallMs.push(performance.now() - t0);
    }
  });
}

async function stop(name: string): Promise<void> {
  const sim = running.get(name);
  if (!sim) return;
  running.delete(name);
  await sim.runtime.stop();
  await sim.bus.close(500);
  checkWatches(undefined);
}

process.on("message", (msg: SimCommand) => {
  void (async () => {
    switch (msg.cmd) {
      case "start":
        // A few at a time: TLS handshakes of hundreds of links at once would stall the event servers.
        for (let i = 0; i < msg.names.length; i += 10) await Promise.all(msg.names.slice(i, i + 10).map((n) => start(n)));
        send({ ev: "started", count: running.size });
        return;
      case "stop":
        await Promise.all(msg.names.map((n) => stop(n)));
        send({ ev: "stopped", count: running.size });
        return;
      case "watch":
        watches.set(msg.id, { present: msg.present, done: new Set() });
        checkWatches(undefined);
        return;
      case "stats":
        send({ ev: "stats", cpuUs: cpuUs(), elMaxMs: eld.max / 1e6, rssMb: process.memoryUsage().rss / 2 ** 20, applyUs, applyWallMs, gcMaxMs });
        applyUs = [];
        applyWallMs = [];
        gcMaxMs = 0;
        eld.reset();
        return;
      case "exit":
        await Promise.all([...running.keys()].map((n) => stop(n)));
        process.exit(0);
    }
  })();
});
send({ ev: "ready" });
