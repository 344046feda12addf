/**
 * The node the SIP fuzzer attacks: a child process running the real SIP
 * stack (transport with its default limits, transactions, proxy, registrar,
 * digest) on UDP and TCP, wired as `thor sip` wires it, with the rate
 * limiter opened wide (the fuzzer sends from one address) and no DNS. It
 * reports over IPC what it received, what each message cost in CPU time,
 * its memory (after a full GC) and the uncaught errors it survived.
 *
 * Costs are CPU time of the process, which also holds the garbage
 * collector's and the JIT compiler's helper threads: a message reported
 * over 10 ms is kept and, on request ("verify"), replayed three times
 * through the node's own UDP listener; it counts as slow only when every
 * replay costs more than 10 ms too.
 *
 * Run: `node --expose-gc fuzz-node.js <ip>`; IPC requests `{ type: "stats", gc?: boolean }`
 * and `{ type: "verify" }`.
 */
import { fileURLToPath } from "node:url";
import { silentLogger, describeError, type Logger } from "../../src/base/index.js";
import { installLastResort, uncaughtErrors } from "../../src/cli/last-resort.js";
import dgram from "node:dgram";
import { subscribe } from "../../src/base/index.js";
import { MemoryCredentialStore, SipProxy, slowMessageChannel, TransportLayer, type SipResolver } from "../../src/sip/index.js";
import { LOCALHOST } from "./slot.js";

export const FUZZ_NODE_SCRIPT = fileURLToPath(import.meta.url);

export interface FuzzNodeStats {
  seen: Record<string, number>;
  received: number;
  parseErrors: number;
  cost: { count: number; maxUs: number; p50Us: number; p99Us: number };
  memory: { rss: number; heapUsed: number };
  transactions: { server: number; client: number };
  uncaught: number;
  errors: string[];
  /** Messages whose first measurement passed 10 ms of CPU. */
  slowCandidates: number;
  /** Of those, the ones slow again on every replay (after "verify"). */
  confirmedSlow: Array<{ bytes: number; start: string; costsUs: number[] }>;
}

/** A message is slow beyond this much CPU. */
export const SLOW_LIMIT_US = 10_000;

const noDns: SipResolver = { naptr: async () => [], srv: async () => [], addresses: async () => [] };

async function main(ip: string): Promise<void> {
  const errors: string[] = [];
  const logger: Logger = {
    ...silentLogger,
    error: ((o: unknown, m?: string) => {
      if (errors.length < 20) errors.push(`${m ?? ""} ${JSON.stringify(o).slice(0, 500)}`);
    }) as Logger["error"],
    child: () => logger,
  };
  installLastResort(logger);
  const seen: Record<string, number> = {};
  const cpuMs = () => {
    const u = process.cpuUsage();
    return (u.user + u.system) / 1000;
  };
  let proxy: SipProxy | undefined;
  const replayPortRef = { port: -1 };
  const replaySeenRef = { count: 0 };
  const transport = new TransportLayer({
    logger,
    listen: [
      { transport: "udp", host: ip, port: 0 },
      { transport: "tcp", host: ip, port: 0 },
    ],
    costClock: cpuMs,
    onMessage: (inbound) => proxy!.receive(inbound),
    admit: (flow) => {
      if (flow.remote.port === replayPortRef.port && flow.transport === "udp") {
        replaySeenRef.count++;
        return true;
      }
      seen[flow.transport] = (seen[flow.transport] ?? 0) + 1;
      return proxy!.guard.admit(flow);
    },
  });
  const credentials = new MemoryCredentialStore("example.test");
  credentials.set("alice", { password: "alice-secret" });
  credentials.set("bob", { password: "bob-secret" });
  proxy = new SipProxy({ logger, transport, domains: ["example.test"], credentials, guard: { rate: 1e9, burst: 1e9 }, timers: { t1: 20 }, timerCMs: 2000, resolver: noDns });
  await transport.start();
  proxy.start();
  const bound = transport.bound();
  const udpPort = bound.find((b) => b.transport === "udp")!.boundPort;
  // Slow candidates, and their replays through a socket of our own.
  const replay = dgram.createSocket("udp4");
  replay.on("message", () => undefined);
  await new Promise<void>((r) => replay.bind(0, ip, () => r()));
  const replayPort = replay.address().port;
  replayPortRef.port = replayPort;
  const candidates: Array<{ bytes: Buffer; costUs: number }> = [];
  let slowCandidates = 0;
  let replayCost = 0;
  const confirmedSlow: FuzzNodeStats["confirmedSlow"] = [];
  subscribe<{ remote: { port: number }; bytes: Buffer; costUs: number }>(slowMessageChannel.name, (m) => {
    if (m.remote.port === replayPort) replayCost = m.costUs;
    else if (m.costUs > SLOW_LIMIT_US) {
      slowCandidates++;
      if (candidates.length < 200) candidates.push({ bytes: Buffer.from(m.bytes), costUs: m.costUs });
    }
  });
  const verify = async () => {
    for (const c of candidates.splice(0)) {
      const costs: number[] = [c.costUs];
      for (let k = 0; k < 3; k++) {
        replayCost = 0; // under the channel's threshold unless reported
        const before = replaySeenRef.count;
        replay.send(c.bytes.subarray(0, 65_000), udpPort, ip);
        for (let i = 0; i < 1000 && replaySeenRef.count === before; i++) await new Promise((r) => setTimeout(r, 1));
        await new Promise((r) => setImmediate(r));
        costs.push(replayCost);
      }
      if (costs.slice(1).every((us) => us > SLOW_LIMIT_US)) confirmedSlow.push({ bytes: c.bytes.length, start: c.bytes.toString("latin1", 0, 80), costsUs: costs });
    }
  };
  process.on("message", (m: { type: string; gc?: boolean }) => {
    if (m.type === "verify") {
      void verify().then(() => process.send?.({ type: "verified" }));
      return;
    }
    if (m.type !== "stats") return;
    if (m.gc) (globalThis as { gc?: () => void }).gc?.();
    const mem = process.memoryUsage();
    const stats: FuzzNodeStats = {
      seen,
      received: transport.stats.received,
      parseErrors: transport.stats.parseErrors,
      cost: transport.cost.snapshot(),
      memory: { rss: mem.rss, heapUsed: mem.heapUsed },
      transactions: proxy!.transactions.counts,
      uncaught: uncaughtErrors(),
      errors,
      slowCandidates,
      confirmedSlow,
    };
    process.send?.({ type: "stats", stats });
  });
  process.send?.({ type: "ready", udp: udpPort, tcp: bound.find((b) => b.transport === "tcp")!.boundPort });
  process.on("disconnect", () => process.exit(0));
}

if (process.argv[1] === FUZZ_NODE_SCRIPT) {
  main(process.argv[2] ?? LOCALHOST).catch((err: unknown) => {
    process.stderr.write(`fuzz node failed: ${describeError(err)}\n`);
    process.exit(1);
  });
}
