/**
 * A whole network on loopback, as used by `thor demo` and the end-to-end
 * tests: which members exist, their addresses, certificates and command
 * lines. Pure planning plus certificate issuing; starting the processes is
 * the caller's (the demo spawns them, tests use their own process helper).
 */
import { randomBytes } from "node:crypto";
import { chmodSync, mkdirSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { initCa, issueCertificate } from "../pki/index.js";
import { DEFAULT_XCAP_PORT, DEFAULT_XCAP_ROOT } from "../xcap/index.js";

export type MemberKind = "eventserver" | "manager" | "database" | "node" | "monitor" | "dns" | "dashboard";

export interface LabMember {
  kind: MemberKind;
  name: string;
  ip: string;
  /** Arguments after `thor`. */
  args: string[];
  roles: string[];
  ports: Record<string, number>;
  cert: string;
  key: string;
  log: string;
}

export interface LabPlan {
  dir: string;
  caDir: string;
  sipDomain: string;
  /** The users file given to the sip_proxy nodes. */
  usersFile: string;
  eventServers: string[];
  members: LabMember[];
  /**
   * The provisioning API of the first provisioning_server node and a write
   * token for it; `tokenFile` holds the token alone (for `thor provision
   * --token-file`), `tokensFile` the `name:scope:secret` list the node reads.
   */
  provisioning?: { url: string; token: string; tokenName: string; tokenFile: string; tokensFile: string };
  /** The XCAP root URI of the first xcap_server node (users authenticate with their SIP credentials). */
  xcap?: { url: string };
  /** The web dashboard (`thor dashboard`) and its operator token; `tokenFile` (0600) holds the token alone. */
  dashboard?: { url: string; token: string; tokenFile: string };
}

export interface LabOptions {
  dir: string;
  /** First three octets of the loopback addresses used, e.g. `127.0.1`. */
  subnet?: string;
  eventServers?: number;
  managers?: number;
  /** Role lists, one per node. */
  nodes?: string[][];
  eventPort?: number;
  lookupPort?: number;
  /** Faster timings, for tests: heartbeat 250 ms, manager dead 1 s, presence 500 ms, member timeout 2 s. */
  fast?: boolean;
  dburi?: string;
  /** SIP port of the sip_proxy nodes (udp and tcp). @default 5060 */
  sipPort?: number;
  /** The platform's SIP domain. @default "example.com" */
  sipDomain?: string;
  /** `thor dns` instances (at `<subnet>.53`, `.54`, ...) serving `sipDomain`; the demo runs two. @default 0 */
  dns?: number;
  /** @default 5300 */
  dnsPort?: number;
  /**
   * Where sip_proxy nodes take their accounts from: the users file, or the
   * provisioning database (accounts created through the API). @default "users-file"
   */
  subscribers?: "users-file" | "database";
  /** API port of provisioning_server nodes. @default 9280 */
  apiPort?: number;
  /** Operations port (`/metrics`, `/health`, `/ready`) of every long-running member, on its own address; 0 = off. @default 0 */
  metricsPort?: number;
  /** HTTP port of xcap_server nodes. @default DEFAULT_XCAP_PORT (9290) */
  xcapPort?: number;
  /** Run `thor dashboard` at `<subnet>.40` on this port (plain HTTP on loopback, operator token); 0 = none. @default 0 */
  dashboardPort?: number;
  /**
   * WebSocket listeners (RFC 7118) on every sip_proxy node, for browser
   * phones (JsSIP, SIP.js): `ws` on {@link LAB_WS_PORT} and `wss` on
   * {@link LAB_WSS_PORT} with the node's certificate from the lab CA. @default false
   */
  webSockets?: boolean;
}

/** Port of the `ws:` SIP listener of lab nodes with `webSockets`. @default 8088 */
export const LAB_WS_PORT = 8088;
/** Port of the `wss:` SIP listener of lab nodes with `webSockets`. @default 8089 */
export const LAB_WSS_PORT = 8089;

/** Demo subscribers, written to `<dir>/users.toml` for the sip_proxy nodes. */
export const DEMO_ACCOUNTS: ReadonlyArray<{ username: string; password: string }> = [
  { username: "alice", password: "alice-secret" },
  { username: "bob", password: "bob-secret" },
  { username: "carol", password: "carol-secret" },
  { username: "dave", password: "dave-secret" },
];

export const DEMO_NODE_ROLES: string[][] = [
  ["sip_proxy", "media_relay"],
  ["sip_proxy", "media_relay", "provisioning_server"],
  ["sip_proxy", "xcap_server", "voicemail_server"],
];

export function planLab(opts: LabOptions): LabPlan {
  const subnet = opts.subnet ?? "127.0.1";
  const caDir = join(opts.dir, "ca");
  const eventPort = opts.eventPort ?? 8000;
  const lookupPort = opts.lookupPort ?? 9500;
  const esCount = opts.eventServers ?? 3;
  const eventServers = Array.from({ length: esCount }, (_, i) => `${subnet}.${1 + i}:${eventPort}`);
  const common = ["--ca-dir", caDir, "--log-format", "json"];
  const joined = ["--event-servers", eventServers.join(",")];
  const fast = opts.fast
    ? { manager: ["--heartbeat-ms", "250", "--dead-ms", "1000", "--member-timeout-ms", "2000", "--snapshot-interval-ms", "1000"], node: ["--presence-interval-ms", "500", "--statistics-interval-ms", "1000", "--cut-off-ms", "2000"], dns: ["--statistics-interval-ms", "1000"] }
    : { manager: [], node: [], dns: [] };
  const members: LabMember[] = [];
  const ops = (ip: string): { args: string[]; ports: Record<string, number> } => (opts.metricsPort ? { args: ["--metrics-listen", `${ip}:${opts.metricsPort}`], ports: { metrics: opts.metricsPort } } : { args: [], ports: {} });
  const add = (kind: MemberKind, name: string, ip: string, args: string[], roles: string[] = [], ports: Record<string, number> = {}) =>
    members.push({ kind, name, ip, args: [...args, "--name", name, ...common, ...ops(ip).args], roles, ports: { ...ports, ...ops(ip).ports }, cert: join(caDir, "certs", `${name}.crt`), key: join(caDir, "certs", `${name}.key`), log: join(opts.dir, "logs", `${name}.log`) });
  for (let i = 0; i < esCount; i++) {
    const ip = `${subnet}.${1 + i}`;
    add("eventserver", `es${i + 1}`, ip, ["eventserver", "--host", ip, "--port", String(eventPort)], [], { events: eventPort });
  }
  for (let i = 0; i < (opts.managers ?? 2); i++) {
    add("manager", `mgr${i + 1}`, `${subnet}.${11 + i}`, ["manager", "--ip", `${subnet}.${11 + i}`, "--priority", String(10 * (i + 1)), ...joined, ...fast.manager]);
  }
  add("database", "db1", `${subnet}.21`, ["database", "--ip", `${subnet}.21`, "--dburi", opts.dburi ?? `sqlite://${join(opts.dir, "thor.db")}`, ...joined]);
  const sipDomain = opts.sipDomain ?? "example.com";
  const sipPort = opts.sipPort ?? 5060;
  const usersFile = join(opts.dir, "users.toml");
  const apiPort = opts.apiPort ?? 9280;
  const apiToken = { name: "admin", secret: randomBytes(18).toString("base64url") };
  let provisioning: LabPlan["provisioning"];
  const tokenFile = join(opts.dir, "api-token");
  const tokensFile = join(opts.dir, "api-tokens");
  let xcap: LabPlan["xcap"];
  (opts.nodes ?? DEMO_NODE_ROLES).forEach((roles, i) => {
    const ip = `${subnet}.${101 + i}`;
    const name = `node${i + 1}`;
    const ws: { listen: string; args: string[]; ports: Record<string, number> } = opts.webSockets ? { listen: `,ws:${ip}:${LAB_WS_PORT},wss:${ip}:${LAB_WSS_PORT}`, args: ["--sip-tls-cert", join(caDir, "certs", `${name}.crt`), "--sip-tls-key", join(caDir, "certs", `${name}.key`)], ports: { sip_ws: LAB_WS_PORT, sip_wss: LAB_WSS_PORT } } : { listen: "", args: [], ports: {} };
    const sip: { args: string[]; ports: Record<string, number> } = roles.includes("sip_proxy")
      ? {
          // MD5 only: SIPp answers only MD5, and baresip 1.0 fails a 401 that also offers SHA-256.
          args: ["--sip-domains", sipDomain, ...(opts.subscribers === "database" ? [] : ["--users", usersFile]), "--sip-listen", `udp:${ip}:${sipPort},tcp:${ip}:${sipPort}${ws.listen}`, ...ws.args, "--algorithms", "MD5"],
          ports: { sip_udp: sipPort, sip_tcp: sipPort, ...ws.ports, sip_int: 5070, control: 9600 },
        }
      : { args: [], ports: {} };
    if (roles.includes("provisioning_server")) {
      // The token is read from a 0600 file, never given on the command line (visible to every user in ps).
      sip.args.push("--api-port", String(apiPort), "--api-tokens-file", tokensFile);
      sip.ports["provisioning"] = apiPort;
      provisioning ??= { url: `http://${ip}:${apiPort}`, token: apiToken.secret, tokenName: apiToken.name, tokenFile, tokensFile };
    }
    if (roles.includes("xcap_server")) {
      const xcapPort = opts.xcapPort ?? DEFAULT_XCAP_PORT;
      sip.args.push("--xcap-port", String(xcapPort));
      if (!roles.includes("sip_proxy")) sip.args.push("--sip-domains", sipDomain);
      sip.ports["xcap"] = xcapPort;
      xcap ??= { url: `http://${ip}:${xcapPort}${DEFAULT_XCAP_ROOT}` };
    }
    add("node", name, ip, ["node", "--ip", ip, "--roles", roles.join(","), "--lookup-port", String(lookupPort), ...sip.args, ...joined, ...fast.node], roles, { lookup: lookupPort, ...sip.ports });
  });
  // Every instance publishes the same NS set (ns1, ns2, ... of the domain), as an operator's would.
  const dnsIps = Array.from({ length: opts.dns ?? 0 }, (_, i) => `${subnet}.${53 + i}`);
  const nameservers = dnsIps.map((ip, i) => `ns${i + 1}.${sipDomain}=${ip}`).join(",");
  dnsIps.forEach((ip, i) => {
    const port = opts.dnsPort ?? 5300;
    add("dns", `dns${i + 1}`, ip, ["dns", "--ip", ip, "--port", String(port), "--domain", sipDomain, "--nameservers", nameservers, ...joined, ...fast.dns], [], { dns: port });
  });
  let dashboard: LabPlan["dashboard"];
  if (opts.dashboardPort) {
    const ip = `${subnet}.40`;
    const tokenFile = join(opts.dir, "dashboard-token");
    add("dashboard", "dashboard", ip, ["dashboard", "--listen", `${ip}:${opts.dashboardPort}`, "--token-file", tokenFile, ...joined], [], { dashboard: opts.dashboardPort });
    dashboard = { url: `http://${ip}:${opts.dashboardPort}`, token: randomBytes(24).toString("base64url"), tokenFile };
  }
  members.push({ kind: "monitor", name: "monitor", ip: "127.0.0.1", args: ["monitor", "--name", "monitor", ...common, ...joined], roles: [], ports: {}, cert: join(caDir, "certs", "monitor.crt"), key: join(caDir, "certs", "monitor.key"), log: "" });
  return { dir: opts.dir, caDir, sipDomain, usersFile, eventServers, members, ...(provisioning ? { provisioning } : {}), ...(xcap ? { xcap } : {}), ...(dashboard ? { dashboard } : {}) };
}

/** The dashboard only reads the network, as the monitor does. */
const OU: Record<MemberKind, string> = { eventserver: "eventserver", manager: "manager", database: "database", node: "node", monitor: "monitor", dns: "dns", dashboard: "monitor" };

/**
 * Write `text` readable by its owner only (0600), also when the file existed
 * with wider permissions; atomically (a temporary file renamed over it), so
 * that a reader who sees the file sees all of it (scripts wait for
 * network.json to appear and read it at once).
 */
export function writePrivateFile(path: string, text: string): void {
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, text, { mode: 0o600 });
  chmodSync(tmp, 0o600);
  renameSync(tmp, path);
}

/**
 * Create the lab directory (0700), the CA and one certificate per member
 * plus `operator` (OU=operator, for `thor drain`), replacing any earlier lab
 * in `plan.dir`, the demo users file, the API and dashboard token files
 * (0600: they hold passwords and tokens).
 */
export async function issueLabCertificates(plan: LabPlan): Promise<void> {
  mkdirSync(plan.dir, { recursive: true, mode: 0o700 });
  chmodSync(plan.dir, 0o700);
  writePrivateFile(plan.usersFile, DEMO_ACCOUNTS.map((a) => `[[users]]\nusername = "${a.username}"\npassword = "${a.password}"\n`).join("\n"));
  if (plan.dashboard) writePrivateFile(plan.dashboard.tokenFile, `${plan.dashboard.token}\n`);
  if (plan.provisioning) {
    writePrivateFile(plan.provisioning.tokenFile, `${plan.provisioning.token}\n`);
    writePrivateFile(plan.provisioning.tokensFile, `${plan.provisioning.tokenName}:write:${plan.provisioning.token}\n`);
  }
  await initCa(plan.caDir, { commonName: "sipthor lab CA", org: "sipthor", force: true });
  for (const m of plan.members) {
    await issueCertificate(plan.caDir, m.name, {
      ip: [m.ip],
      ou: OU[m.kind],
      roles: m.kind === "node" ? m.roles : m.kind === "monitor" || m.kind === "dashboard" ? ["monitor"] : m.kind === "dns" ? ["dns"] : ["*"],
      force: true,
    });
  }
  await issueCertificate(plan.caDir, "operator", { ip: [], ou: "operator", roles: ["operator"], force: true });
}

/** Every member's operations endpoint (`http://ip:port`), by name. */
export function opsEndpoints(plan: LabPlan): Array<{ name: string; kind: MemberKind; url: string }> {
  return plan.members.filter((m) => m.ports["metrics"]).map((m) => ({ name: m.name, kind: m.kind, url: `http://${m.ip}:${m.ports["metrics"]}` }));
}

/** A Prometheus scrape configuration for the lab: one job per member kind, the member name as a label. */
export function prometheusConfig(plan: LabPlan, scrapeInterval = "5s"): string {
  const lines = ["global:", `  scrape_interval: ${scrapeInterval}`, `  evaluation_interval: ${scrapeInterval}`, "scrape_configs:"];
  const kinds = [...new Set(opsEndpoints(plan).map((e) => e.kind))];
  for (const kind of kinds) {
    lines.push(`  - job_name: thor_${kind}`, "    static_configs:");
    for (const e of opsEndpoints(plan).filter((x) => x.kind === kind)) lines.push(`      - targets: ["${e.url.replace("http://", "")}"]`, `        labels: { member: "${e.name}" }`);
  }
  return lines.join("\n") + "\n";
}
