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
 * (address 127.0.171.50-51; THOR_BENCH_NET=127.0.x moves it).
 */
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import dgram from "node:dgram";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";

const here = fileURLToPath(new URL(".", import.meta.url));
const thisDist = fileURLToPath(new URL("..", import.meta.url));
const [beforeDist, roundsText] = [process.argv[2], process.argv[3]];
if (!beforeDist) throw new Error("usage: node dist/bench/sip-core-cpu.js <older checkout's dist> [rounds]");
const ROUNDS = Number(roundsText ?? 6);
const OPS = Number(process.env["THOR_BENCH_OPS"] ?? 6000);
const USERS = Number(process.env["THOR_BENCH_USERS"] ?? 2000);
const WINDOW = 40;
const NET = process.env["THOR_BENCH_NET"] ?? "127.0.171";
const [HOST, CLIENT] = [`${NET}.50`, `${NET}.51`];
const md5 = (s: string) => createHash("md5").update(s).digest("hex");

function message(lines: readonly string[], body = ""): Buffer {
  return Buffer.from(`${lines.join("\r\n")}\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
}

async function server(dist: string): Promise<{ port: number; cpu(): Promise<number>; stop(): void }> {
  const child = spawn("taskset", ["-c", "0", process.execPath, `${here}sip-core-cpu-server.js`, dist, HOST], { stdio: ["pipe", "pipe", "inherit"], env: { ...process.env, THOR_BENCH_USERS: String(USERS) } });
  const waiters: Array<(line: string) => void> = [];
  createInterface({ input: child.stdout! }).on("line", (l) => waiters.shift()?.(l));
  const next = () => new Promise<string>((r) => waiters.push(r));
  const port = Number((await next()).split(" ")[1]);
  return {
    port,
    cpu: async () => {
      child.stdin!.write("cpu\n");
      return Number((await next()).split(" ")[1]);
    },
    stop: () => child.stdin!.write("exit\n"),
  };
}

/** One run against `dist`: CPU µs per REGISTER and per forwarded MESSAGE. */
async function run(dist: string): Promise<{ register: number; forward: number }> {
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
  const phase = async (op: (i: number, id: string) => Promise<void>, tag: string) => {
    let next = 0;
    const before = await srv.cpu();
    await Promise.all(
      Array.from({ length: WINDOW }, async () => {
        while (next < OPS) {
          const i = next++;
          await op(i, `${tag}${i}-${Math.random().toString(36).slice(2)}`);
        }
      }),
    );
    return ((await srv.cpu()) - before) / OPS;
  };
  try {
    await phase(register, "warm"); // every user registered, the JIT warm
    return { register: await phase(register, "r"), forward: await phase(forward, "m") };
  } finally {
    srv.stop();
    sock.close();
  }
}

const trees: Array<[string, string]> = [
  ["this tree", thisDist],
  ["before", beforeDist],
];
const runs = new Map<string, Array<{ register: number; forward: number }>>(trees.map(([n]) => [n, []]));
for (let round = 0; round < ROUNDS; round++) {
  for (const [name, dist] of round % 2 === 0 ? trees : [...trees].reverse()) runs.get(name)!.push(await run(dist));
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
for (const [name, rs] of runs) {
  for (const key of ["register", "forward"] as const) {
    const xs = rs.map((r) => r[key]);
    process.stdout.write(`${name.padEnd(10)} ${key.padEnd(9)} µs: ${xs.map((x) => x.toFixed(0)).join(" ")}  median ${median(xs).toFixed(0)}  min ${Math.min(...xs).toFixed(0)}\n`);
  }
}
