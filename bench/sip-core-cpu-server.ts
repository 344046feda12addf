/**
 * Child process of bench/sip-core-cpu.ts: a SipServer built from the
 * compiled tree named by argv[2] (this tree's dist or an older checkout's),
 * on UDP at argv[3], port 0. Prints `port <n>`, then `cpu <µs> <gc µs>` (its
 * own user + system CPU time, and the garbage collector's pauses) for every `cpu` line read from stdin; `profile`
 * starts the CPU profiler, `heap` answers `heap <bytes>` used after a full
 * collection, and `profile <file>` writes what it recorded
 * (each answered `ok`); `exit` ends it.
 */
import { writeFileSync } from "node:fs";
import { Session } from "node:inspector";
import { PerformanceObserver } from "node:perf_hooks";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
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
// Time spent in garbage collection (ms, pauses on the main thread), reported with the CPU time.
let gcMs = 0;
new PerformanceObserver((list) => {
  for (const e of list.getEntries()) gcMs += e.duration;
}).observe({ entryTypes: ["gc"] });
let inspector: Session | undefined;
const post = (method: string) =>
  new Promise<unknown>((resolve, reject) => inspector!.post(method, (err, res) => (err ? reject(err) : resolve(res))));
process.stdin.setEncoding("utf8");
process.stdin.on("data", (d: string) => {
  for (const line of d.split("\n")) {
    if (line === "cpu") {
      const u = process.cpuUsage();
      process.stdout.write(`cpu ${u.user + u.system} ${gcMs * 1000}\n`);
    } else if (line === "heap") {
      // The heap that stays after a full collection: what the server keeps.
      setFlagsFromString("--expose-gc");
      (runInNewContext("gc") as () => void)();
      process.stdout.write(`heap ${process.memoryUsage().heapUsed}\n`);
    } else if (line === "profile") {
      inspector ??= new Session();
      inspector.connect();
      void post("Profiler.enable")
        .then(() => post("Profiler.start"))
        .then(() => process.stdout.write("ok\n"));
    } else if (line.startsWith("profile ")) {
      void post("Profiler.stop").then((res) => {
        writeFileSync(line.slice("profile ".length), JSON.stringify((res as { profile: unknown }).profile));
        inspector!.disconnect();
        process.stdout.write("ok\n");
      });
    } else if (line === "exit") process.exit(0);
  }
});

function USERS(): number {
  return Number(process.env["THOR_BENCH_USERS"] ?? 2000);
}
