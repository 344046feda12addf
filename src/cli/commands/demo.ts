import { spawn, type ChildProcess } from "node:child_process";
import { createWriteStream, mkdirSync, writeFileSync } from "node:fs";
import { resolve, join } from "node:path";
import type { Command } from "commander";
import { sleep, silentLogger } from "../../base/index.js";
import { EventClient, parseEndpoint } from "../../events/index.js";
import { NetworkView, renderNetwork } from "../../monitor/index.js";
import { TlsIdentity } from "../../pki/index.js";
import { systemClock } from "../../base/index.js";
import { ProvisioningApiError, ProvisioningClient } from "../../provisioning/index.js";
import { DEMO_ACCOUNTS, issueLabCertificates, planLab, type LabMember, type LabPlan } from "../lab.js";

interface DemoFlags {
  dir: string;
  subnet: string;
  nodes: string;
  timeoutMs: string;
  exitWhenReady?: boolean;
}

/** The description of the running demo network written for scripts and tests. */
function describe(plan: LabPlan, pids: Map<string, number>): object {
  const member = (m: LabMember) => ({ name: m.name, ip: m.ip, ports: m.ports, roles: m.roles, pid: pids.get(m.name) ?? null, cert: resolve(m.cert), key: resolve(m.key), log: m.log ? resolve(m.log) : null });
  const of = (kind: LabMember["kind"]) => plan.members.filter((m) => m.kind === kind).map(member);
  return {
    startedAt: new Date().toISOString(),
    dir: resolve(plan.dir),
    ca: { dir: resolve(plan.caDir), cert: resolve(plan.caDir, "ca.crt"), crl: resolve(plan.caDir, "crl.pem") },
    eventServers: of("eventserver"),
    managers: of("manager"),
    databases: of("database"),
    nodes: of("node"),
    monitor: of("monitor")[0] ?? null,
    dns: of("dns").map((d) => ({ ...d, address: `${d.ip}:${d.ports["dns"]}`, zones: [plan.sipDomain] })),
    sip: {
      domain: plan.sipDomain,
      listeners: plan.members
        .filter((m) => m.kind === "node" && m.roles.includes("sip_proxy"))
        .map((m) => ({ node: m.name, udp: `${m.ip}:${m.ports["sip_udp"]}`, tcp: `${m.ip}:${m.ports["sip_tcp"]}` })),
    },
    media: {
      // The sip_proxy nodes put one of these relays in the media path of every call (docs/media.md).
      relays: plan.members.filter((m) => m.kind === "node" && m.roles.includes("media_relay")).map((m) => ({ node: m.name, address: m.ip, ports: "40000-49999", control: `${m.ip}:9600` })),
      policy: "always",
    },
    accounts: DEMO_ACCOUNTS.map((a) => ({ aor: `${a.username}@${plan.sipDomain}`, username: a.username, password: a.password, realm: plan.sipDomain })),
    provisioning: plan.provisioning ? { url: plan.provisioning.url, token: plan.provisioning.token, openapi: `${plan.provisioning.url}/openapi.json` } : null,
    commands: {
      ...(plan.provisioning ? { provision: `THOR_API_URL=${plan.provisioning.url} THOR_API_TOKEN=${plan.provisioning.token} thor provision account add zoe@${plan.sipDomain} --password zoe-secret` } : {}),
      monitor: `thor monitor --name monitor --ca-dir ${resolve(plan.caDir)} --event-servers ${plan.eventServers.join(",")}`,
      lookup: `thor lookup sip_proxy alice@example.com --server ${plan.members.find((m) => m.kind === "node")?.ip ?? "127.0.0.1"}:9500`,
      dig: digCommands(plan),
    },
  };
}

/** The RFC 3263 resolution of the demo domain with dig, against the demo's `thor dns`. */
function digCommands(plan: LabPlan): string[] {
  const dns = plan.members.find((m) => m.kind === "dns");
  if (!dns) return [];
  const at = `@${dns.ip} -p ${dns.ports["dns"]}`;
  return [`dig ${at} ${plan.sipDomain} NAPTR`, `dig ${at} _sip._udp.${plan.sipDomain} SRV`, `dig ${at} node1.${plan.sipDomain} A`, `dig ${at} _eventserver._tcp.${plan.sipDomain} SRV`];
}

/** Create the demo domain and accounts through the provisioning API (existing ones are kept). */
async function provisionDemoAccounts(plan: LabPlan, deadline: number): Promise<boolean> {
  if (!plan.provisioning) return true;
  const api = new ProvisioningClient({ url: plan.provisioning.url, token: plan.provisioning.token });
  const tolerate = (err: unknown) => {
    if (!(err instanceof ProvisioningApiError && err.status === 409)) throw err;
  };
  try {
    for (;;) {
      try {
        await api.createDomain({ name: plan.sipDomain }).catch(tolerate);
        for (const a of DEMO_ACCOUNTS) await api.createAccount({ username: a.username, domain: plan.sipDomain, password: a.password }).catch(tolerate);
        process.stdout.write(`created ${DEMO_ACCOUNTS.length} demo accounts through the provisioning API at ${plan.provisioning.url}\n`);
        return true;
      } catch (err) {
        if (Date.now() > deadline) {
          process.stdout.write(`!! could not create the demo accounts: ${err instanceof Error ? err.message : String(err)}\n`);
          return false;
        }
        await sleep(250);
      }
    }
  } finally {
    api.close();
  }
}

export function register(program: Command): void {
  program
    .command("demo")
    .description("run a whole sipthor network on loopback: CA, 3 event servers, 2 managers, a database announcer, 3 nodes, thor dns")
    .option("--dir <dir>", "working directory for the CA, logs and the description", ".thor-demo")
    .option("--subnet <a.b.c>", "loopback /24 to use", "127.0.1")
    .option("--nodes <n>", "number of nodes (3+)", "3")
    .option("--timeout-ms <ms>", "how long to wait for the network to form", "30000")
    .option("--exit-when-ready", "stop everything once the network has formed (smoke test)")
    .action(async (flags: DemoFlags) => {
      const nodeCount = Math.max(1, Number(flags.nodes) || 3);
      const roleSets = [["sip_proxy", "media_relay"], ["sip_proxy", "media_relay", "provisioning_server"], ["sip_proxy", "xcap_server", "voicemail_server"]];
      const plan = planLab({ dir: flags.dir, subnet: flags.subnet, nodes: Array.from({ length: nodeCount }, (_, i) => roleSets[i % roleSets.length]!), subscribers: "database", dns: 1 });
      mkdirSync(join(plan.dir, "logs"), { recursive: true });
      process.stdout.write(`creating CA and certificates in ${resolve(plan.caDir)}\n`);
      await issueLabCertificates(plan);

      const children = new Map<string, ChildProcess>();
      const pids = new Map<string, number>();
      const bin = process.argv[1] ?? "thor";
      const startMember = (m: LabMember) => {
        const child = spawn(process.execPath, [bin, ...m.args], { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, THOR_LOG_FORMAT: "json" } });
        const out = createWriteStream(m.log, { flags: "a" });
        child.stdout?.pipe(out);
        child.stderr?.pipe(out);
        children.set(m.name, child);
        if (child.pid) pids.set(m.name, child.pid);
        child.once("exit", (code, signal) => {
          children.delete(m.name);
          if (!stopping) process.stdout.write(`!! ${m.name} exited (${signal ?? code}); see ${m.log}\n`);
        });
        process.stdout.write(`started ${m.kind.padEnd(11)} ${m.name.padEnd(6)} ${m.ip.padEnd(12)} pid ${child.pid ?? "?"}  ${m.roles.join(",")}\n`);
      };
      let stopping = false;
      const stopAll = async () => {
        stopping = true;
        const exits = [...children.values()].map((c) => new Promise<void>((r) => (c.exitCode !== null || c.signalCode !== null ? r() : c.once("exit", () => r()))));
        // Nodes first (they announce their leave), then managers, then the event servers.
        for (const kind of ["dns", "node", "database", "manager", "eventserver"] as const) {
          for (const m of plan.members.filter((x) => x.kind === kind)) children.get(m.name)?.kill("SIGTERM");
          await sleep(kind === "eventserver" ? 0 : 300);
        }
        const killer = setTimeout(() => [...children.values()].forEach((c) => c.kill("SIGKILL")), 8000);
        await Promise.all(exits);
        clearTimeout(killer);
      };

      for (const kind of ["eventserver", "manager", "database", "node", "dns"] as const) {
        for (const m of plan.members.filter((x) => x.kind === kind)) startMember(m);
      }
      const monitor = plan.members.find((m) => m.kind === "monitor")!;
      const identity = await TlsIdentity.load({ ca: join(plan.caDir, "ca.crt"), cert: monitor.cert, key: monitor.key, crl: join(plan.caDir, "crl.pem") });
      const bus = new EventClient({ identity, logger: silentLogger, servers: plan.eventServers.map((s) => parseEndpoint(s)) });
      await bus.start();
      const view = new NetworkView(systemClock);
      view.attach(bus);

      const nodeCountWanted = plan.members.filter((m) => m.kind === "node").length;
      const deadline = Date.now() + Number(flags.timeoutMs);
      while (Date.now() < deadline && (view.snapshot?.members.length ?? 0) < nodeCountWanted) await sleep(100);
      const formed = (view.snapshot?.members.length ?? 0) >= nodeCountWanted;
      // The demo accounts are created through the provisioning API, like an operator would.
      const ready = formed && (await provisionDemoAccounts(plan, deadline));
      const descriptionPath = resolve(plan.dir, "network.json");
      writeFileSync(descriptionPath, JSON.stringify(describe(plan, pids), null, 2) + "\n");
      process.stdout.write("\n" + renderNetwork(view, { width: process.stdout.columns ?? 140 }) + "\n\n");
      process.stdout.write(ready ? `demo network is up\n` : `!! the network did not form within ${flags.timeoutMs} ms; see the logs in ${resolve(plan.dir, "logs")}\n`);
      process.stdout.write(`network description: ${descriptionPath}\n`);

      if (!ready || flags.exitWhenReady) {
        await bus.close();
        identity.close();
        await stopAll();
        process.stdout.write("demo stopped\n");
        process.exitCode = ready ? 0 : 1;
        return;
      }
      process.stdout.write(`try:  node ${bin} ${(describe(plan, pids) as { commands: { lookup: string } }).commands.lookup.replace(/^thor /, "")}\n`);
      for (const cmd of digCommands(plan)) process.stdout.write(`      ${cmd}\n`);
      process.stdout.write(`      node ${bin} monitor --name monitor --ca-dir ${resolve(plan.caDir)} --event-servers ${plan.eventServers.join(",")}\n`);
      if (plan.provisioning) process.stdout.write(`      THOR_API_URL=${plan.provisioning.url} THOR_API_TOKEN=${plan.provisioning.token} node ${bin} provision account list\n`);
      process.stdout.write("press Ctrl-C to stop\n\n");
      let seen = view.events.length;
      view.onChange(() => {
        for (const e of view.events.slice(seen)) process.stdout.write(`${new Date(e.at).toISOString().slice(11, 23)}  ${e.text}\n`);
        seen = view.events.length;
      });
      await new Promise<void>((resolveStop) => {
        const onSignal = () => {
          process.off("SIGINT", onSignal);
          process.off("SIGTERM", onSignal);
          resolveStop();
        };
        process.on("SIGINT", onSignal);
        process.on("SIGTERM", onSignal);
      });
      process.stdout.write("\nstopping the demo network...\n");
      await bus.close();
      identity.close();
      await stopAll();
      process.stdout.write("demo stopped\n");
    });
}
