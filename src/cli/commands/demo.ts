import { mkdirSync, writeFileSync } from "node:fs";
import { resolve, join } from "node:path";
import type { Command } from "commander";
import { sleep } from "../../base/index.js";
import { renderNetwork } from "../../monitor/index.js";
import { ProvisioningApiError, ProvisioningClient } from "../../provisioning/index.js";
import { DEMO_ACCOUNTS, issueLabCertificates, opsEndpoints, planLab, prometheusConfig, writePrivateFile, type LabMember, type LabPlan } from "../lab.js";
import { LAB_START_ORDER, LabRunner, spawnThorMember } from "../lab-runner.js";

/** Operations port of every demo member (`/metrics`, `/health`, `/ready`). */
const DEMO_METRICS_PORT = 9100;
/** Port of the demo's web dashboard (`thor dashboard` at <subnet>.40). */
const DEMO_DASHBOARD_PORT = 9180;

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
        .map((m) => ({
          node: m.name,
          udp: `${m.ip}:${m.ports["sip_udp"]}`,
          tcp: `${m.ip}:${m.ports["sip_tcp"]}`,
          // Browser phones (JsSIP, SIP.js): README "Browser phones".
          ...(m.ports["sip_ws"] !== undefined ? { ws: `ws://${m.ip}:${m.ports["sip_ws"]}` } : {}),
          ...(m.ports["sip_wss"] !== undefined ? { wss: `wss://${m.ip}:${m.ports["sip_wss"]}` } : {}),
        })),
    },
    media: {
      // The sip_proxy nodes put one of these relays in the media path of every call (docs/media.md).
      relays: plan.members.filter((m) => m.kind === "node" && m.roles.includes("media_relay")).map((m) => ({ node: m.name, address: m.ip, ports: "40000-49999", control: `${m.ip}:9600` })),
      policy: "always",
    },
    accounts: DEMO_ACCOUNTS.map((a) => ({ aor: `${a.username}@${plan.sipDomain}`, username: a.username, password: a.password, realm: plan.sipDomain })),
    metrics: opsEndpoints(plan).map((e) => ({ name: e.name, metrics: `${e.url}/metrics`, health: `${e.url}/health`, ready: `${e.url}/ready` })),
    prometheusConfig: resolve(plan.dir, "prometheus.yml"),
    xcap: plan.xcap ? { url: plan.xcap.url, caps: `${plan.xcap.url}/xcap-caps/global/index`, auth: "HTTP digest with the account's SIP credentials (realm = its domain)" } : null,
    dashboard: plan.dashboard ? { ...(of("dashboard")[0] ?? {}), url: `${plan.dashboard.url}/`, login: `${plan.dashboard.url}/login`, token: plan.dashboard.token, tokenFile: resolve(plan.dashboard.tokenFile) } : null,
    provisioning: plan.provisioning ? { url: plan.provisioning.url, token: plan.provisioning.token, tokenFile: resolve(plan.provisioning.tokenFile), openapi: `${plan.provisioning.url}/openapi.json` } : null,
    commands: {
      ...(plan.provisioning ? { provision: `thor provision --api ${plan.provisioning.url} --token-file ${resolve(plan.provisioning.tokenFile)} account add zoe@${plan.sipDomain} --password zoe-secret` } : {}),
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

/** Where an operator looks: the metrics, the web dashboard and the Nagios/Icinga checks of the demo. */
function printOperations(plan: LabPlan, bin: string): void {
  const firstOps = opsEndpoints(plan).find((e) => e.kind === "node");
  if (firstOps) process.stdout.write(`metrics:   curl ${firstOps.url}/metrics   (every member: ${opsEndpoints(plan).length} endpoints in network.json; Prometheus config: ${resolve(plan.dir, "prometheus.yml")})\n           curl ${firstOps.url}/ready\n`);
  if (plan.dashboard) process.stdout.write(`dashboard: ${plan.dashboard.url}/   (sign in with the operator token in ${resolve(plan.dashboard.tokenFile)})\n`);
  const n = plan.members.filter((m) => m.kind === "node").length;
  process.stdout.write(`checks:    node ${bin} check network --ca-dir ${resolve(plan.caDir)} --event-servers ${plan.eventServers.join(",")} -w ${n}: -c ${Math.max(1, n - 1)}:\n`);
  const firstNode = plan.members.find((m) => m.kind === "node");
  if (firstNode) process.stdout.write(`           node ${bin} check node ${firstNode.ip} -w 0.5 -c 2\n`);
  const dns = plan.members.find((m) => m.kind === "dns");
  if (dns) process.stdout.write(`           node ${bin} check dns ${dns.ip}:${dns.ports["dns"]} --domain ${plan.sipDomain} -c ${Math.max(1, n - 1)}:\n`);
}

export function register(program: Command): void {
  program
    .command("demo")
    .description("run a whole sipthor network on loopback: CA, 3 event servers, 2 managers, a database announcer, 3 nodes, two thor dns")
    .option("--dir <dir>", "working directory for the CA, logs and the description", ".thor-demo")
    .option("--subnet <a.b.c>", "loopback /24 to use", "127.0.1")
    .option("--nodes <n>", "number of nodes (3+)", "3")
    .option("--timeout-ms <ms>", "how long to wait for the network to form", "30000")
    .option("--exit-when-ready", "stop everything once the network has formed (smoke test)")
    .action(async (flags: DemoFlags) => {
      const nodeCount = Math.max(1, Number(flags.nodes) || 3);
      const roleSets = [["sip_proxy", "media_relay"], ["sip_proxy", "media_relay", "provisioning_server"], ["sip_proxy", "xcap_server", "voicemail_server"]];
      const plan = planLab({ dir: flags.dir, subnet: flags.subnet, nodes: Array.from({ length: nodeCount }, (_, i) => roleSets[i % roleSets.length]!), subscribers: "database", dns: 2, metricsPort: DEMO_METRICS_PORT, dashboardPort: DEMO_DASHBOARD_PORT, webSockets: true });
      mkdirSync(join(plan.dir, "logs"), { recursive: true });
      process.stdout.write(`creating CA and certificates in ${resolve(plan.caDir)}\n`);
      await issueLabCertificates(plan);

      const bin = process.argv[1] ?? "thor";
      let stopping = false;
      const lab = new LabRunner(plan, spawnThorMember(bin, { logToFile: true, onExit: (m, how) => void (stopping || process.stdout.write(`!! ${m.name} exited (${how}); see ${m.log}\n`)) }));
      // Ctrl-C / SIGTERM at any time stops the members: during start-up at once (they would outlive us), later after the wait below.
      let waiting = false;
      const signalled = new Promise<void>((resolveStop) => {
        const onSignal = () => {
          process.off("SIGINT", onSignal);
          process.off("SIGTERM", onSignal);
          resolveStop();
        };
        process.on("SIGINT", onSignal);
        process.on("SIGTERM", onSignal);
      });
      void signalled.then(async () => {
        if (waiting) return;
        stopping = true;
        process.stdout.write("\nstopping the demo network during start-up...\n");
        await lab.stop("graceful");
        process.exit(130);
      });
      for (const kind of LAB_START_ORDER) {
        for (const m of lab.of(kind)) {
          const p = lab.start(m.name);
          process.stdout.write(`started ${m.kind.padEnd(11)} ${m.name.padEnd(6)} ${m.ip.padEnd(12)} pid ${p.pid}  ${m.roles.join(",")}\n`);
        }
      }
      const pids = new Map([...lab.procs].map(([name, p]) => [name, p.pid]));
      const stopAll = async () => {
        stopping = true;
        await lab.stop("graceful");
      };
      await lab.observe();
      const view = lab.view;
      let formed = false;
      try {
        formed = await lab.waitForMembers(Number(flags.timeoutMs));
      } catch (err) {
        process.stdout.write(`!! ${err instanceof Error ? err.message : String(err)}\n`);
      }
      const deadline = Date.now() + Number(flags.timeoutMs);
      // The demo accounts are created through the provisioning API, like an operator would.
      const ready = formed && (await provisionDemoAccounts(plan, deadline));
      writeFileSync(resolve(plan.dir, "prometheus.yml"), prometheusConfig(plan));
      const descriptionPath = resolve(plan.dir, "network.json");
      // 0600: it holds the demo passwords and the API token.
      writePrivateFile(descriptionPath, JSON.stringify(describe(plan, pids), null, 2) + "\n");
      process.stdout.write("\n" + renderNetwork(view, { width: process.stdout.columns ?? 140 }) + "\n\n");
      process.stdout.write(ready ? `demo network is up\n` : `!! the network did not form within ${flags.timeoutMs} ms; see the logs in ${resolve(plan.dir, "logs")}\n`);
      process.stdout.write(`network description: ${descriptionPath}\n`);
      if (ready) printOperations(plan, bin);

      if (!ready || flags.exitWhenReady) {
        await stopAll();
        process.stdout.write("demo stopped\n");
        process.exitCode = ready ? 0 : 1;
        return;
      }
      process.stdout.write(`try:  node ${bin} ${(describe(plan, pids) as { commands: { lookup: string } }).commands.lookup.replace(/^thor /, "")}\n`);
      for (const cmd of digCommands(plan)) process.stdout.write(`      ${cmd}\n`);
      process.stdout.write(`      node ${bin} monitor --name monitor --ca-dir ${resolve(plan.caDir)} --event-servers ${plan.eventServers.join(",")}\n`);
      if (plan.provisioning) process.stdout.write(`      node ${bin} provision --api ${plan.provisioning.url} --token-file ${resolve(plan.provisioning.tokenFile)} account list\n`);
      process.stdout.write("press Ctrl-C to stop\n\n");
      let seen = view.events.length;
      view.onChange(() => {
        for (const e of view.events.slice(seen)) process.stdout.write(`${new Date(e.at).toISOString().slice(11, 23)}  ${e.text}\n`);
        seen = view.events.length;
      });
      waiting = true;
      await signalled;
      process.stdout.write("\nstopping the demo network...\n");
      await stopAll();
      process.stdout.write("demo stopped\n");
    });
}
