/**
 * Child process of bench/sip-core-cpu.ts: a SipServer built from the
 * compiled tree named by argv[2] (this tree's dist or an older checkout's),
 * on UDP at argv[3], port 0. Prints `port <n>`, then `cpu <µs>` (its own
 * user + system CPU time) for every `cpu` line read from stdin; `exit` ends it.
 */
import { pathToFileURL } from "node:url";

interface ServerLike {
  start(): Promise<void>;
  transport: { bound(): Array<{ boundPort: number }> };
}
interface SipModule {
  SipServer: new (opts: object) => ServerLike;
  MemoryCredentialStore: new (realm: string) => { set(user: string, c: { password: string }): void };
}

const [dist, host] = [process.argv[2]!, process.argv[3]!];
const sip = (await import(pathToFileURL(`${dist}/src/sip/index.js`).href)) as SipModule;
const base = (await import(pathToFileURL(`${dist}/src/base/index.js`).href)) as { silentLogger: object };
const credentials = new sip.MemoryCredentialStore("example.test");
for (let i = 0; i < USERS(); i++) credentials.set(`u${i}`, { password: `p${i}` });
const server = new sip.SipServer({ logger: base.silentLogger, listen: [{ transport: "udp", host, port: 0 }], domains: ["example.test"], credentials, algorithms: ["MD5"], guard: { rate: 1e9, burst: 1e9 } });
await server.start();
process.stdout.write(`port ${server.transport.bound()[0]!.boundPort}\n`);
process.stdin.setEncoding("utf8");
process.stdin.on("data", (d: string) => {
  for (const line of d.split("\n")) {
    if (line === "cpu") {
      const u = process.cpuUsage();
      process.stdout.write(`cpu ${u.user + u.system}\n`);
    } else if (line === "exit") process.exit(0);
  }
});

function USERS(): number {
  return Number(process.env["THOR_BENCH_USERS"] ?? 2000);
}
