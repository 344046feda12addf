/**
 * Server CPU per operation of the SIP core, this tree against an older
 * tree, measured in alternating runs in the same sitting (a quick
 * before/after of a change to the proxy core, with less noise than the
 * SIPp-driven sip-load steps):
 *   - REGISTER with digest (401, then MD5 qop=auth credentials), over
 *     THOR_BENCH_USERS subscribers (default 2,000);
 *   - a MESSAGE from a foreign user to a registered one, forwarded
 *     statefully (request phase, location lookup, forward phase,
 *     forwarder, client and server transactions) and answered 200 by the
 *     client.
 * The server runs in a child process pinned to core 0 (taskset); its own
 * CPU time (user + system) is read before and after each phase of
 * THOR_BENCH_OPS operations (default 6,000, 40 in flight) and divided by
 * their count. Reports each run, the median and the minimum.
 *
 * Usage: npm run build && node dist/bench/sip-core-cpu.js <older checkout's dist> [rounds]
 * (THOR_BENCH_PROF=<dir>: a CPU profile of each measured phase of each
 * server run is written there, `<tree>-<phase>-<run>.cpuprofile`)
 * (address 127.0.171.50-51; THOR_BENCH_NET=127.0.x moves it).
 */
import { execFileSync, spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import dgram from "node:dgram";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";

const here = fileURLToPath(new URL(".", import.meta.url));
const thisDist = fileURLToPath(new URL("..", import.meta.url));
const [beforeDist, roundsText] = [process.argv[2], process.argv[3]];
if (!beforeDist) throw new Error("usage: node dist/bench/sip-core-cpu.js <older checkout's dist> [rounds]");
const ROUNDS = Number(roundsText ?? 6);
const CALLGRIND = process.env["THOR_BENCH_CALLGRIND"];
const OPS = Number(process.env["THOR_BENCH_OPS"] ?? (CALLGRIND ? 400 : 6000));
const USERS = Number(process.env["THOR_BENCH_USERS"] ?? 2000);
const WINDOW = CALLGRIND ? 10 : 40;
const NET = process.env["THOR_BENCH_NET"] ?? "127.0.171";
const [HOST, CLIENT] = [`${NET}.50`, `${NET}.51`];
const md5 = (s: string) => createHash("md5").update(s).digest("hex");

function message(lines: readonly string[], body = ""): Buffer {
  return Buffer.from(`${lines.join("\r\n")}\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
}

const PROF = process.env["THOR_BENCH_PROF"];

/** A server's CPU time and garbage-collection pauses so far, µs. */
interface Cpu {
  cpu: number;
  gc: number;
}
type Result = Record<"register" | "forward" | "registerGc" | "forwardGc" | "heapKB", number>;

async function server(dist: string): Promise<{ port: number; cpu(): Promise<Cpu>; heap(): Promise<number>; profile(file: string | undefined): Promise<void>; instructions(on: boolean): number; stop(): void }> {
  const node = [process.execPath, `${here}sip-core-cpu-server.js`, dist, HOST];
  const cgOut = CALLGRIND ? `${CALLGRIND}/callgrind.${process.pid}.${Date.now()}` : "";
  const [cmd, ...args] = CALLGRIND ? ["valgrind", "--tool=callgrind", "--instr-atstart=no", `--callgrind-out-file=${cgOut}`, ...node] : ["taskset", "-c", "0", ...node];
  const child = spawn(cmd!, args, { stdio: ["pipe", "pipe", CALLGRIND ? "ignore" : "inherit"], env: { ...process.env, THOR_BENCH_USERS: String(USERS) } });
  const waiters: Array<(line: string) => void> = [];
  createInterface({ input: child.stdout! }).on("line", (l) => waiters.shift()?.(l));
  const next = () => new Promise<string>((r) => waiters.push(r));
  const port = Number((await next()).split(" ")[1]);
  return {
    port,
    cpu: async () => {
      child.stdin!.write("cpu\n");
      const [, cpu, gc] = (await next()).split(" ");
      return { cpu: Number(cpu), gc: Number(gc) };
    },
    heap: async () => {
      child.stdin!.write("heap\n");
      return Number((await next()).split(" ")[1]);
    },
    /** Start profiling (file undefined) or stop and write the profile to `file`. */
    profile: async (file) => {
      child.stdin!.write(file === undefined ? "profile\n" : `profile ${file}\n`);
      await next();
    },
    /**
     * Under callgrind: switch instrumentation on (zeroing the counters), or
     * off, dumping them; returns the instructions counted since on (every
     * thread of the server: JIT code, collector, libuv; not the kernel).
     */
    instructions: (on) => {
      const ctl = (...a: string[]) => execFileSync("callgrind_control", [...a, String(child.pid)], { stdio: "ignore" });
      if (on) {
        ctl("-z");
        ctl("-i", "on");
        return 0;
      }
      ctl("-i", "off");
      ctl("-d");
      const dir = cgOut.slice(0, cgOut.lastIndexOf("/"));
      const base = cgOut.slice(dir.length + 1);
      const dumps = readdirSync(dir).filter((f) => f.startsWith(`${base}.`)).sort((a, b) => Number(a.split(".").pop()) - Number(b.split(".").pop()));
      const text = readFileSync(`${dir}/${dumps[dumps.length - 1]!}`, "utf8");
      return Number(/^totals: (\d+)/m.exec(text)?.[1] ?? NaN);
    },
    stop: () => child.stdin!.write("exit\n"),
  };
}

/** One run against `dist`: CPU µs per REGISTER and per forwarded MESSAGE. */
async function run(dist: string, label: string): Promise<Result> {
  const srv = await server(dist);
  const sock = dgram.createSocket("udp4");
  await new Promise<void>((r) => sock.bind(0, CLIENT, () => r()));
  const port = sock.address().port;
  const pending = new Map<string, (text: string) => void>();
  sock.on("message", (m) => {
    const t = m.toString("latin1");
    if (t.startsWith("MESSAGE ")) {
      // The registered user agent answers what the proxy forwards to it.
      const head = t.split("\r\n\r\n")[0]!.split("\r\n").filter((l) => /^(via|from|to|call-id|cseq):/i.test(l));
      sock.send(message(["SIP/2.0 200 OK", ...head.map((l) => (/^to:/i.test(l) ? `${l};tag=ua` : l))]), srv.port, HOST);
      return;
    }
    const id = /\r\nCall-ID: ([^\r]+)/i.exec(t)?.[1];
    if (id) pending.get(id)?.(t);
  });
  const ask = (id: string, data: Buffer) =>
    new Promise<string>((r) => {
      pending.set(id, r);
      sock.send(data, srv.port, HOST);
    });
  const register = async (i: number, id: string) => {
    const user = `u${i % USERS}`;
    const req = (cseq: number, auth: string[]) =>
      message([`REGISTER sip:example.test SIP/2.0`, `Via: SIP/2.0/UDP ${CLIENT}:${port};branch=z9hG4bK${id}-${cseq};rport`, `From: <sip:${user}@example.test>;tag=f${i}`, `To: <sip:${user}@example.test>`, `Call-ID: ${id}`, `CSeq: ${cseq} REGISTER`, "Max-Forwards: 70", "Expires: 3600", `Contact: <sip:${user}@${CLIENT}:${port}>`, ...auth]);
    const challenge = await ask(id, req(1, []));
    const nonce = /nonce="([^"]+)"/.exec(challenge)?.[1] ?? "";
    const response = md5(`${md5(`${user}:example.test:p${i % USERS}`)}:${nonce}:00000001:c0:auth:${md5("REGISTER:sip:example.test")}`);
    const ok = await ask(id, req(2, [`Authorization: Digest username="${user}", realm="example.test", nonce="${nonce}", uri="sip:example.test", response="${response}", algorithm=MD5, qop=auth, nc=00000001, cnonce="c0"`]));
    if (!ok.startsWith("SIP/2.0 200")) throw new Error(`REGISTER: ${ok.slice(0, 60)}`);
  };
  const forward = async (i: number, id: string) => {
    const to = `sip:u${i % USERS}@example.test`;
    const ok = await ask(id, message([`MESSAGE ${to} SIP/2.0`, `Via: SIP/2.0/UDP ${CLIENT}:${port};branch=z9hG4bK${id};rport`, "From: <sip:x@elsewhere.test>;tag=m1", `To: <${to}>`, `Call-ID: ${id}`, "CSeq: 1 MESSAGE", "Max-Forwards: 70", "Content-Type: text/plain"], "hi"));
    if (!ok.startsWith("SIP/2.0 200")) throw new Error(`MESSAGE: ${ok.slice(0, 60)}`);
  };
  const phase = async (op: (i: number, id: string) => Promise<void>, tag: string, name?: string) => {
    let next = 0;
    if (PROF && name) await srv.profile(undefined);
    if (CALLGRIND && name) srv.instructions(true);
    const before = await srv.cpu();
    await Promise.all(
      Array.from({ length: WINDOW }, async () => {
        while (next < OPS) {
          const i = next++;
          await op(i, `${tag}${i}-${Math.random().toString(36).slice(2)}`);
        }
      }),
    );
    const after = await srv.cpu();
    // Under callgrind the figure is instructions per operation (in `cpu`), not µs.
    if (CALLGRIND && name) return { cpu: srv.instructions(false) / OPS, gc: 0 };
    if (PROF && name) await srv.profile(`${PROF}/${label}-${name}.cpuprofile`);
    return { cpu: (after.cpu - before.cpu) / OPS, gc: (after.gc - before.gc) / OPS };
  };
  try {
    await phase(register, "warm"); // every user registered, the JIT warm
    const r = await phase(register, "r", "register");
    const f = await phase(forward, "m", "forward");
    // What the server holds right after the three phases (bindings, replay records, lingering transactions).
    const heapKB = (await srv.heap()) / 1024;
    return { register: r.cpu, forward: f.cpu, registerGc: r.gc, forwardGc: f.gc, heapKB };
  } finally {
    srv.stop();
    sock.close();
  }
}

const trees: Array<[string, string]> = [
  ["this tree", thisDist],
  ["before", beforeDist],
];
const runs = new Map<string, Result[]>(trees.map(([n]) => [n, []]));
for (let round = 0; round < ROUNDS; round++) {
  for (const [name, dist] of round % 2 === 0 ? trees : [...trees].reverse()) runs.get(name)!.push(await run(dist, `${name.replace(/ /g, "-")}-${round}`));
}
const fmt = (x: number, key?: string) => (CALLGRIND && key !== "heapKB" ? `${(x / 1e6).toFixed(3)}M` : x.toFixed(0));
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
for (const [name, rs] of runs) {
  for (const key of ["register", "forward", "registerGc", "forwardGc", "heapKB"] as const) {
    const xs = rs.map((r) => r[key]);
    process.stdout.write(`${name.padEnd(10)} ${key.padEnd(10)} ${CALLGRIND ? "instructions" : "µs"}: ${xs.map((x) => fmt(x, key)).join(" ")}  median ${fmt(median(xs), key)}  min ${fmt(Math.min(...xs), key)}\n`);
  }
}
