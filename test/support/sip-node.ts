/**
 * A stand-in `sip_proxy` node for DNS tests: a real process running the real
 * NodeRuntime (presence, leave, snapshots) with a role that advertises SIP
 * listeners in its entity ports, without a SIP engine behind them. SIGUSR2
 * toggles administrative drain (`attrs.draining`).
 *
 * Run: `node sip-node.js <name> <ip> <caDir> <eventServers> <ports> [presenceMs]`
 * with ports as `sip_udp=5060,sip_tcp=5060`.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { silentLogger } from "../../src/base/index.js";
import { EventClient, parseEndpoint } from "../../src/events/index.js";
import { NodeRuntime, type Role } from "../../src/node/index.js";
import { TlsIdentity } from "../../src/pki/index.js";

const SCRIPT = fileURLToPath(import.meta.url);

export interface SipNodeProcess {
  readonly name: string;
  readonly child: ChildProcess;
  readonly exited: Promise<void>;
  readonly output: string[];
  stop(signal?: NodeJS.Signals): Promise<void>;
}

export function startSipNode(name: string, ip: string, caDir: string, eventServers: readonly string[], ports: Record<string, number>, presenceMs = 500): SipNodeProcess {
  const portText = Object.entries(ports)
    .map(([k, v]) => `${k}=${v}`)
    .join(",");
  const child = spawn(process.execPath, [SCRIPT, name, ip, caDir, eventServers.join(","), portText, String(presenceMs)], { stdio: ["ignore", "pipe", "pipe"] });
  const output: string[] = [];
  child.stdout?.setEncoding("utf8").on("data", (c: string) => output.push(c));
  child.stderr?.setEncoding("utf8").on("data", (c: string) => output.push(c));
  const exited = new Promise<void>((r) => child.once("exit", () => r()));
  return {
    name,
    child,
    exited,
    output,
    async stop(signal: NodeJS.Signals = "SIGKILL") {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill(signal);
      const t = setTimeout(() => child.kill("SIGKILL"), 5000);
      await exited;
      clearTimeout(t);
    },
  };
}

class SipPortsRole implements Role {
  readonly name = "sip_proxy";
  constructor(private readonly ports: Record<string, number>) {}
  async start(): Promise<void> {}
  async stop(): Promise<void> {}
  advertise() {
    return { ports: this.ports };
  }
}

async function main(argv: string[]): Promise<void> {
  const [name, ip, caDir, es, portText, presence] = argv;
  if (!name || !ip || !caDir || !es || portText === undefined) throw new Error("usage: sip-node <name> <ip> <caDir> <eventServers> <ports> [presenceMs]");
  const ports = Object.fromEntries(
    portText
      .split(",")
      .filter(Boolean)
      .map((kv) => {
        const [k, v] = kv.split("=");
        return [k!, Number(v)];
      }),
  );
  const identity = await TlsIdentity.load({ ca: join(caDir, "ca.crt"), cert: join(caDir, "certs", `${name}.crt`), key: join(caDir, "certs", `${name}.key`), crl: join(caDir, "crl.pem") });
  const bus = new EventClient({ identity, logger: silentLogger, servers: es.split(",").map((s) => parseEndpoint(s)), reconnectMaxMs: 500 });
  await bus.start();
  const runtime = new NodeRuntime({ bus, logger: silentLogger, id: name, ip, version: "test", roles: [new SipPortsRole(ports)], presenceIntervalMs: Number(presence ?? 500) });
  await runtime.start();
  let draining = false;
  process.on("SIGUSR2", () => {
    draining = !draining;
    runtime.setDraining(draining);
    process.stdout.write(`draining ${draining}\n`);
  });
  const keepAlive = setInterval(() => undefined, 1 << 30);
  process.once("SIGTERM", () => {
    void runtime.stop().then(async () => {
      await bus.close();
      identity.close();
      clearInterval(keepAlive);
    });
  });
  process.stdout.write("ready\n");
}

if (process.argv[1] === SCRIPT) {
  main(process.argv.slice(2)).catch((err: unknown) => {
    process.stderr.write(`sip-node: ${String(err)}\n`);
    process.exit(1);
  });
}
