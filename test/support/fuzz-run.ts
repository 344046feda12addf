/**
 * Drive the SIP fuzzer against a fuzz node (fuzz-node.ts) over UDP and
 * TCP until the node has taken `messages` messages, pacing the sender on
 * the node's own count so the socket buffers do not overflow; then let the
 * transactions expire and compare memory after a full GC with the figure
 * taken after a warm-up. Bounded: a deadline for the whole run, the child
 * killed by PID at the end.
 */
import { fork, type ChildProcess } from "node:child_process";
import dgram from "node:dgram";
import net from "node:net";
import { waitFor } from "./wait-for.js";
import { FUZZ_NODE_SCRIPT, type FuzzNodeStats } from "./fuzz-node.js";
import { mutate, Prng, seeds } from "./sip-fuzz.js";

export interface FuzzReport {
  /** Messages the node took (UDP datagrams and framed TCP messages). */
  messages: number;
  udp: number;
  tcp: number;
  /** Writes and datagrams sent. */
  sent: number;
  tcpConnections: number;
  seconds: number;
  cost: FuzzNodeStats["cost"];
  before: FuzzNodeStats["memory"];
  after: FuzzNodeStats["memory"];
  uncaught: number;
  errors: string[];
  alive: boolean;
  /** Messages first measured over 10 ms of CPU, and those slow again on every replay. */
  slowCandidates: number;
  confirmedSlow: FuzzNodeStats["confirmedSlow"];
}

class FuzzNode {
  private readonly waiting: Array<(s: FuzzNodeStats) => void> = [];
  constructor(readonly child: ChildProcess) {
    child.on("message", (m: { type: string; stats?: FuzzNodeStats }) => {
      if (m.type === "stats" && m.stats) this.waiting.shift()?.(m.stats);
    });
  }
  verify(): Promise<void> {
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error("fuzz node did not verify")), 120_000);
      const on = (m: { type: string }) => {
        if (m.type !== "verified") return;
        clearTimeout(t);
        this.child.off("message", on);
        resolve();
      };
      this.child.on("message", on);
      this.child.send({ type: "verify" });
    });
  }

  stats(gc = false): Promise<FuzzNodeStats> {
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error("fuzz node did not answer")), 30_000);
      this.waiting.push((s) => {
        clearTimeout(t);
        resolve(s);
      });
      this.child.send({ type: "stats", gc });
    });
  }
  get alive(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }
}

const taken = (s: FuzzNodeStats) => (s.seen["udp"] ?? 0) + (s.seen["tcp"] ?? 0);

export async function runFuzz(opts: { messages: number; ip: string; seed?: number; tcpShare?: number; deadlineMs: number; onProgress?: (done: number) => void }): Promise<FuzzReport> {
  const child = fork(FUZZ_NODE_SCRIPT, [opts.ip], { execArgv: ["--expose-gc"], stdio: ["ignore", "ignore", "pipe", "ipc"] });
  const node = new FuzzNode(child);
  const exited = new Promise<void>((r) => child.once("exit", () => r()));
  const sockets: net.Socket[] = [];
  const udp = dgram.createSocket("udp4");
  try {
    const ready = await new Promise<{ udp: number; tcp: number }>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error("fuzz node did not start")), 15_000);
      child.once("message", (m: { type: string; udp: number; tcp: number }) => {
        clearTimeout(t);
        resolve(m);
      });
    });
    udp.on("message", () => undefined);
    await new Promise<void>((r) => udp.bind(0, opts.ip, () => r()));
    const r = new Prng(opts.seed ?? 4475);
    const corpus = seeds();
    const tcpShare = opts.tcpShare ?? 0.3;
    let connections = 0;
    const connect = (): net.Socket => {
      const s = net.connect({ host: opts.ip, port: ready.tcp, localAddress: opts.ip });
      s.on("error", () => undefined);
      s.on("data", () => undefined);
      connections++;
      return s;
    };
    for (let i = 0; i < 4; i++) sockets.push(connect());
    let sent = 0;
    const deadline = Date.now() + opts.deadlineMs;
    const send = (n: number) => {
      for (let i = 0; i < n; i++, sent++) {
        if (r.next() < tcpShare) {
          const k = r.int(sockets.length);
          if (sockets[k]!.destroyed || sockets[k]!.writableEnded) sockets[k] = connect();
          sockets[k]!.write(mutate(corpus, r));
        } else udp.send(mutate(corpus, r, 65_000), ready.udp, opts.ip);
      }
    };
    // Warm-up, then the memory baseline.
    send(Math.min(5000, Math.ceil(opts.messages / 10)));
    await waitFor(async () => (await node.stats()).transactions.server === 0, { timeoutMs: 20_000, intervalMs: 200, message: "warm-up transactions expired" });
    const before = (await node.stats(true)).memory;
    const start = Date.now();
    const base = taken(await node.stats());
    let done = 0;
    while (done < opts.messages) {
      if (Date.now() > deadline) throw new Error(`fuzz run past its deadline after ${done} messages`);
      send(500);
      // Pace on the node: wait until it stops making progress (caught up; datagrams beyond its buffer are lost, not counted).
      let prev = -1;
      for (let spins = 0; spins < 1000 && node.alive; spins++) {
        done = taken(await node.stats()) - base;
        if (done === prev) break;
        prev = done;
      }
      opts.onProgress?.(done);
      if (!node.alive) break;
    }
    const seconds = (Date.now() - start) / 1000;
    for (const s of sockets) s.destroy();
    await waitFor(async () => {
      const s = await node.stats();
      return s.transactions.server === 0 && s.transactions.client === 0;
    }, { timeoutMs: 30_000, intervalMs: 250, message: "transactions expired after the run" });
    await node.verify();
    const end = await node.stats(true);
    return {
      messages: taken(end) - base,
      udp: end.seen["udp"] ?? 0,
      tcp: end.seen["tcp"] ?? 0,
      sent,
      tcpConnections: connections,
      seconds,
      cost: end.cost,
      before,
      after: end.memory,
      uncaught: end.uncaught,
      errors: end.errors,
      alive: node.alive,
      slowCandidates: end.slowCandidates,
      confirmedSlow: end.confirmedSlow,
    };
  } finally {
    udp.close();
    for (const s of sockets) s.destroy();
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    await exited;
  }
}
