/**
 * `npm run bench -- media`: relayed G.711 calls on one core, the built-in
 * relay against rtpengine userspace (Debian rtpengine-daemon, --table=-1,
 * one thread) in the same run and under the same load generator; and the
 * call set-up cost through the dispatcher.
 *
 * A call is 50 packets/s each way, 172-byte RTP packets (12-byte header,
 * 160 bytes of G.711). The relay runs pinned to CPU 1 (`taskset -c 1`), the
 * generator in this process pinned to CPU 0. So that the generator (Node
 * dgram, a few ten thousand packets/s) is not the limit, calls are chained
 * `CHAIN` deep: what a generated call sends crosses `CHAIN` relayed calls
 * (call j's callee is call j+1's caller, all on the relay under test) before
 * it comes back to the generator, so the relay handles `CHAIN` times the
 * generator's packets. For each load (number of relayed calls) the
 * generator sends for `SECONDS`, each packet carrying its send time; a load
 * passes with 0 loss and a p99 latency through the whole chain ≤ 5 ms. The
 * figure is the highest passing load; the relay's and the generator's CPU
 * are reported. Engines: the built-in relay with its native data path, the
 * same relay on its JavaScript data path, and rtpengine userspace, load by
 * load in turn.
 */
import { spawn, type ChildProcess } from "node:child_process";
import dgram from "node:dgram";
import { readFileSync } from "node:fs";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { silentLogger, systemClock } from "../src/base/index.js";
import { MediaRelay, RtpengineEngine, type MediaDescription, type RelayedStream } from "../src/media/index.js";
import { RoleMap } from "../src/overlay/index.js";
import { MediaDispatcher } from "../src/roles/index.js";
import { parseMessage, SipRequest, SipResponse, type ResponseHandler } from "../src/sip/index.js";
import type { BenchResult } from "./types.js";

const GEN = "127.0.130.230";
const SECONDS = 4;
const CHAIN = 8;
const LOADS = [200, 400, 600, 800, 1000, 1200, 1600, 2000, 2400, 3200];
const PACKET = 172;
const SOCKETS = 32;

interface Engine {
  name: string;
  pid: number;
  describe(op: "offer" | "update", d: MediaDescription): Promise<RelayedStream[]>;
  close(): Promise<void>;
}

function cpuTicks(pid: number): number {
  const f = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
  return Number(f[11]) + Number(f[12]);
}

async function builtin(dataPath: "native" | "js"): Promise<Engine> {
  const worker = fileURLToPath(new URL("./media-relay-worker.js", import.meta.url));
  const child = spawn("taskset", ["-c", "1", process.execPath, worker, "127.0.130.220", "40000", "59999", dataPath], { stdio: ["pipe", "pipe", "inherit"] });
  const waiting = new Map<number, (r: { streams?: RelayedStream[]; error?: string }) => void>();
  let ready: () => void = () => undefined;
  const up = new Promise<void>((r) => (ready = r));
  createInterface({ input: child.stdout! }).on("line", (l) => {
    const m = JSON.parse(l) as { ready?: boolean; id?: number; streams?: RelayedStream[]; error?: string };
    if (m.ready) return ready();
    waiting.get(m.id!)?.(m);
  });
  await up;
  let id = 0;
  return {
    name: dataPath === "native" ? "sipthor relay" : "sipthor relay (JavaScript data path)",
    pid: child.pid!,
    describe: (op, d) =>
      new Promise((resolve, reject) => {
        const n = ++id;
        waiting.set(n, (r) => (r.streams ? resolve(r.streams) : reject(new Error(r.error))));
        child.stdin!.write(`${JSON.stringify({ id: n, op, d })}\n`);
      }),
    close: () => stop(child),
  };
}

async function rtpengine(): Promise<Engine> {
  const child = spawn("taskset", ["-c", "1", "rtpengine", "--foreground", "--log-stderr", "--table=-1", "--interface=127.0.130.221", "--listen-ng=127.0.130.221:22231", "--port-min=40000", "--port-max=59999", "--num-threads=1", "--log-level=3"], { stdio: ["ignore", "ignore", "ignore"] });
  const engine = new RtpengineEngine({ host: "127.0.130.221", port: 22231, logger: silentLogger, timeoutMs: 500 });
  await engine.start();
  const deadline = Date.now() + 10_000;
  for (;;) {
    try {
      await engine.offer({ callId: "probe", tag: "p", streams: [{ address: GEN, port: 9 }] });
      await engine.delete("probe");
      break;
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 200));
    }
  }
  return {
    name: "rtpengine userspace",
    pid: child.pid!,
    describe: (op, d) => (op === "offer" ? engine.offer(d) : engine.update(d)),
    close: async () => {
      engine.stop();
      await stop(child);
    },
  };
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  const exited = new Promise((r) => child.once("exit", r));
  child.kill("SIGTERM");
  const t = setTimeout(() => child.kill("SIGKILL"), 5000);
  await exited;
  clearTimeout(t);
}

interface LoadOutcome {
  /** Relayed calls (generated calls × CHAIN). */
  calls: number;
  /** Packets the generator sent. */
  sent: number;
  /** Packets the relay forwarded (sent × CHAIN when nothing is lost). */
  relayed: number;
  lost: number;
  p99Ms: number;
  relayCpu: number;
  /** Relay CPU per forwarded packet, µs. */
  usPerPacket: number;
  genCpu: number;
}

/**
 * Set up `calls` relayed calls on the engine as chains of CHAIN, send for
 * SECONDS, measure. Offers go down a chain (call j's caller is call j-1's
 * callee leg), answers come back up it (call j's callee is call j+1's caller
 * leg), so every address is known when it is described.
 */
async function load(engine: Engine, calls: number, round: number): Promise<LoadOutcome> {
  const generated = Math.ceil(calls / CHAIN);
  // SOCKETS sockets per side (generated call i uses socket i % SOCKETS): the kernel's per-socket receive buffer is small.
  const side = () => Array.from({ length: SOCKETS }, () => dgram.createSocket("udp4"));
  const as = side();
  const bs = side();
  await Promise.all([...as, ...bs].map((s) => new Promise<void>((r) => s.bind(0, GEN, () => r()))));
  for (const s of [...as, ...bs]) {
    s.setRecvBufferSize(4 << 20);
    s.setSendBufferSize(4 << 20);
  }
  /** Where generated call i's A side sends (the chain's first caller leg) and its B side sends (the last callee leg). */
  const toA: RelayedStream[] = [];
  const toB: RelayedStream[] = [];
  for (let i = 0; i < generated; i++) {
    const ids = Array.from({ length: CHAIN }, (_, j) => `r${round}-c${i}-${j}`);
    let caller = { address: GEN, port: as[i % SOCKETS]!.address().port };
    for (const callId of ids) {
      const towardsCallee = (await engine.describe("offer", { callId, tag: "a", streams: [caller] }))[0]!;
      caller = { address: towardsCallee.address, port: towardsCallee.port };
      if (callId === ids[CHAIN - 1]) toB.push(towardsCallee);
    }
    let callee = { address: GEN, port: bs[i % SOCKETS]!.address().port };
    for (const callId of [...ids].reverse()) {
      const towardsCaller = (await engine.describe("update", { callId, tag: "b", streams: [callee] }))[0]!;
      callee = { address: towardsCaller.address, port: towardsCaller.port };
    }
    toA.push({ address: callee.address, port: callee.port, rtcpPort: callee.port + 1 });
  }
  const latencies: number[] = [];
  let received = 0;
  const onMessage = (m: Buffer) => {
    received++;
    if (m.length >= 20) latencies.push(performance.now() - m.readDoubleLE(12));
  };
  for (const s of [...as, ...bs]) s.on("message", onMessage);
  const pkt = Buffer.alloc(PACKET);
  pkt[0] = 0x80;
  // Latch both sides first (one packet each way), then measure.
  for (let i = 0; i < generated; i++) {
    as[i % SOCKETS]!.send(pkt, toA[i]!.port, toA[i]!.address);
    bs[i % SOCKETS]!.send(pkt, toB[i]!.port, toB[i]!.address);
  }
  await new Promise((r) => setTimeout(r, 300));
  received = 0;
  latencies.length = 0;
  let sent = 0;
  let relayed = 0;
  let seq = 0;
  const relay0 = cpuTicks(engine.pid);
  const gen0 = process.cpuUsage();
  const t0 = performance.now();
  // Every call sends every 20 ms, the calls spread over SLOTS slots 20/SLOTS ms apart (phones are not in step; one
  // burst of every call's packet would queue up at each of the CHAIN hops and measure the burst, not the relay).
  const SLOTS = 10;
  let tickNo = 0;
  await new Promise<void>((resolve) => {
    const tick = () => {
      const slot = tickNo % SLOTS;
      seq = Math.floor(tickNo / SLOTS) + 1;
      for (let i = slot; i < generated; i += SLOTS) {
        const p = Buffer.allocUnsafe(PACKET);
        p[0] = 0x80;
        p[1] = 0;
        p.writeUInt16BE(seq & 0xffff, 2);
        p.writeUInt32BE(seq * 160, 4);
        p.writeUInt32BE(i, 8);
        p.writeDoubleLE(performance.now(), 12);
        as[i % SOCKETS]!.send(p, toA[i]!.port, toA[i]!.address);
        const q = Buffer.from(p);
        q.writeDoubleLE(performance.now(), 12);
        bs[i % SOCKETS]!.send(q, toB[i]!.port, toB[i]!.address);
        sent += 2;
        relayed += 2 * CHAIN;
      }
      tickNo++;
      // 50 packets/s per direction on average: the next slot at its own deadline (catching up when late).
      if (tickNo < SECONDS * 50 * SLOTS) setTimeout(tick, Math.max(0, t0 + (tickNo * 20) / SLOTS - performance.now()));
      else resolve();
    };
    tick();
  });
  await new Promise((r) => setTimeout(r, 300));
  const wall = (performance.now() - t0) / 1000;
  const relayCpu = (cpuTicks(engine.pid) - relay0) / 100 / wall;
  const g = process.cpuUsage(gen0);
  latencies.sort((x, y) => x - y);
  for (const s of [...as, ...bs]) s.close();
  return { calls, sent, relayed, lost: Math.max(0, sent - received), p99Ms: latencies[Math.floor(latencies.length * 0.99)] ?? Infinity, relayCpu, usPerPacket: (relayCpu * wall * 1e6) / Math.max(1, relayed), genCpu: (g.user + g.system) / 1e6 / wall };
}

interface Capacity {
  name: string;
  /** Highest load of an unbroken run of passing loads (0 loss, p99 ≤ 5 ms) from the first. */
  best: LoadOutcome | undefined;
  /** Highest load with 0 loss. */
  lossless: LoadOutcome | undefined;
  tried: LoadOutcome[];
  done: boolean;
}

/** Every engine through the loads in turn (load by load, so that all see the same machine), each until it loses packets. */
async function capacities(makers: ReadonlyArray<() => Promise<Engine>>): Promise<Capacity[]> {
  const out: Capacity[] = makers.map(() => ({ name: "", best: undefined, lossless: undefined, tried: [], done: false }));
  for (const [round, calls] of LOADS.entries()) {
    for (const [k, make] of makers.entries()) {
      const c = out[k]!;
      if (c.done) continue;
      // A fresh relay per load: no leftovers from the previous one.
      const engine = await make();
      c.name = engine.name;
      try {
        const o = await load(engine, calls, round).catch((err: unknown) => {
          process.stdout.write(`  ${engine.name}: ${calls} calls: set-up failed (${err instanceof Error ? err.message : String(err)})\n`);
          return undefined;
        });
        if (!o) {
          c.done = true;
          continue;
        }
        c.tried.push(o);
        process.stdout.write(`  ${engine.name}: ${calls} calls: lost ${o.lost}/${o.sent}, p99 ${o.p99Ms.toFixed(2)} ms, relay ${(o.relayCpu * 100).toFixed(0)}% of a core (${o.usPerPacket.toFixed(2)} µs per relayed packet), generator ${(o.genCpu * 100).toFixed(0)}%\n`);
        // Loads go on while nothing is lost, so that a machine too busy for the latency bound still shows the 0-loss capacity.
        if (o.lost > 0) {
          c.done = true;
          continue;
        }
        c.lossless = o;
        if (o.p99Ms <= 5 && c.best?.calls === c.tried[c.tried.length - 2]?.calls) c.best = o;
      } finally {
        await engine.close();
      }
    }
  }
  return out;
}

function sipRequest(text: string): SipRequest {
  const r = parseMessage(Buffer.from(text));
  if (!r.ok || !(r.message instanceof SipRequest)) throw new Error("bad request");
  return r.message;
}

/** Offers and answers per second through the dispatcher, against an in-process relay engine. */
async function setupRate(): Promise<number> {
  const relay = new MediaRelay({ interfaces: [{ listen: "127.0.130.222" }], logger: silentLogger, portMin: 48000, portMax: 59999, maxSessions: 10_000 });
  const members = [{ id: "r1", ip: "127.0.130.222", roles: ["media_relay"], version: "b", ports: { control: 1 }, attrs: {}, startedAt: 0 }];
  const d = new MediaDispatcher({
    logger: silentLogger,
    clock: systemClock,
    map: () => RoleMap.fromMembers(members),
    call: async (_m, method, p) => {
      const x = p as MediaDescription & { callId: string };
      if (method === "media.delete") return relay.delete(x.callId) ?? null;
      return { streams: await (method === "media.offer" ? relay.offer(x) : relay.update(x)) };
    },
  });
  const sdp = (ip: string, port: number) => `v=0\r\no=- 1 1 IN IP4 ${ip}\r\ns=-\r\nc=IN IP4 ${ip}\r\nt=0 0\r\nm=audio ${port} RTP/AVP 0 8 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:101 telephone-event/8000\r\na=sendrecv\r\n`;
  const N = 1000;
  const t0 = performance.now();
  for (let i = 0; i < N; i++) {
    const body = sdp("127.0.130.240", 10000 + i * 2);
    const req = sipRequest(`INVITE sip:bob@example.com SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.130.240;branch=z9hG4bK-${i}\r\nFrom: <sip:alice@example.com>;tag=a${i}\r\nTo: <sip:bob@example.com>\r\nCall-ID: setup-${i}\r\nCSeq: 1 INVITE\r\nContent-Length: ${body.length}\r\n\r\n${body}`);
    const h = (await d.onRequest({ request: req, source: { address: "127.0.130.240", port: 5060, transport: "udp", fromMember: false }, targets: [] })) as ResponseHandler;
    const ans = sdp("127.0.130.241", 20000 + i * 2);
    const res = parseMessage(Buffer.from(`SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 127.0.130.240;branch=z9hG4bK-${i}\r\nFrom: <sip:alice@example.com>;tag=a${i}\r\nTo: <sip:bob@example.com>;tag=b${i}\r\nCall-ID: setup-${i}\r\nCSeq: 1 INVITE\r\nContent-Length: ${ans.length}\r\n\r\n${ans}`));
    if (!res.ok || !(res.message instanceof SipResponse)) throw new Error("bad response");
    await h.onResponse!(res.message);
    if (i % 100 === 99) for (let j = i - 99; j <= i; j++) relay.delete(`setup-${j}`);
  }
  const rate = N / ((performance.now() - t0) / 1000);
  relay.stop();
  return rate;
}

function describeTried(tried: readonly LoadOutcome[]): string {
  return tried.map((o) => `${o.calls} calls: lost ${o.lost}/${o.sent}, p99 ${o.p99Ms.toFixed(1)} ms, relay ${(o.relayCpu * 100).toFixed(0)}%`).join("; ");
}

export async function run(): Promise<BenchResult[]> {
  // The generator on CPU 0, the relays on CPU 1.
  await new Promise<void>((resolve) => spawn("taskset", ["-pc", "0", String(process.pid)], { stdio: "ignore" }).once("exit", () => resolve()));
  const [ours, js, theirs] = (await capacities([() => builtin("native"), () => builtin("js"), rtpengine])) as [Capacity, Capacity, Capacity];
  const note = (o: LoadOutcome | undefined) => (o ? `relay ${(o.relayCpu * 100).toFixed(0)}% of a core (${o.usPerPacket.toFixed(2)} µs per packet), generator ${(o.genCpu * 100).toFixed(0)}%, p99 ${o.p99Ms.toFixed(2)} ms` : "no load passed");
  const setup = await setupRate();
  return [
    {
      name: "relayed G.711 calls on one core (0 loss, p99 ≤ 5 ms)",
      value: ours.best?.calls ?? 0,
      unit: "calls",
      // No ratio against a baseline that passed no load at all.
      ...(theirs.best ? { baseline: { name: theirs.name, value: theirs.best.calls } } : {}),
      note: `${note(ours.best)}; rtpengine userspace: ${theirs.best ? note(theirs.best) : `no load passed (${describeTried(theirs.tried)})`}; JavaScript data path: ${js.best ? `${js.best.calls} calls, ${note(js.best)}` : `no load passed (${describeTried(js.tried)})`}${ours.best ? "" : `; sipthor: ${describeTried(ours.tried)}`}`,
    },
    {
      name: "relayed G.711 calls on one core at 0 loss (latency not bounded)",
      value: ours.lossless?.calls ?? 0,
      unit: "calls",
      ...(theirs.lossless ? { baseline: { name: theirs.name, value: theirs.lossless.calls } } : {}),
      note: `${note(ours.lossless)}; rtpengine userspace: ${note(theirs.lossless)}; JavaScript data path: ${js.lossless ? `${js.lossless.calls} calls, ${note(js.lossless)}` : "no load passed"}`,
    },
    { name: "offers+answers through the dispatcher (SDP rewrite both ways, in-process relay)", value: setup, unit: "calls/s", note: "1 offer + 1 answer per call, relay ports bound per call" },
  ];
}
