import { readFileSync } from "node:fs";
import type { Command } from "commander";
import { z } from "zod";
import { AdvertisedRole, ControlLink, loadSharedOpener, serveDrain, NodeRuntime, DEFAULT_CONTROL_PORT, DEFAULT_CUT_OFF_MS, DEFAULT_PRESENCE_INTERVAL_MS, DEFAULT_STATISTICS_INTERVAL_MS, type Role } from "../../node/index.js";
import { LookupServer, ROLE_NAME } from "../../overlay/index.js";
import { DEFAULT_NAT_POLICY, DEFAULT_RELAY_TIMEOUT_MS, DEFAULT_REPLICAS, DEFAULT_SIP_INTERNAL_PORT, MediaRelayRole, ProvisioningServerRole, SipProxyRole, SubscriberBinding, XcapServerRole } from "../../roles/index.js";
import { DEFAULT_MAX_DOCUMENT_BYTES, DEFAULT_MAX_DOCUMENTS_PER_USER, DEFAULT_XCAP_PORT } from "../../xcap/index.js";
import { DEFAULT_MEDIA_INACTIVITY_MS, DEFAULT_MEDIA_PORT_MAX, DEFAULT_MEDIA_PORT_MIN, MediaRelay, RtpengineEngine, parseNgAddress } from "../../media/index.js";
import { DEFAULT_API_PORT, isLoopback, parseToken } from "../../provisioning/index.js";
import { MemoryCredentialStore } from "../../sip/index.js";
import { bool, ConfigError, list, num } from "../config.js";
import { connectEvents, eventServerSource, loadIdentity, loadMemberConfig, memberFlags, memberLogger, memberSchema, tlsPaths, untilSignal } from "../member.js";
import { loadUsers, parseListeners, presenceFlags, presenceSettings, presenceShape, sipLimitFlags, sipLimits, sipLimitsShape } from "../sip-config.js";
import { VERSION } from "../version.js";
import { busMetrics, startOps } from "../ops.js";
import { planWorkers, WorkerSupervisor } from "../sip-workers.js";
import type { ThorMetrics } from "../../monitor/index.js";
import { DEFAULT_SECRET_POLL_MS, loadSecrets, parsePassport, secretsDir, watchSecrets } from "../../pki/index.js";
import type { KeyRing, Logger } from "../../base/index.js";

const schema = memberSchema.extend({
  ip: z.string().min(2),
  roles: list(z.string().regex(ROLE_NAME, "role names are lowercase letters, digits and _")).default([]),
  /** Public lookup interface port (0 = disabled). */
  lookupPort: num().int().min(0).max(65535).default(9500),
  presenceIntervalMs: num().int().min(100).default(DEFAULT_PRESENCE_INTERVAL_MS),
  statisticsIntervalMs: num().int().min(100).default(DEFAULT_STATISTICS_INTERVAL_MS),
  /** Silence of the managers after which the node asks its peers whether the cluster moved on without it (then it is cut off). */
  cutOffMs: num().int().min(200).default(DEFAULT_CUT_OFF_MS),
  /** Control link port (member-to-member requests over mutual TLS). */
  controlPort: num().int().min(0).max(65535).default(DEFAULT_CONTROL_PORT),
  /** sip_proxy: internal SIP listener between members (TLS, node certificates). */
  sipInternalPort: num().int().min(0).max(65535).default(DEFAULT_SIP_INTERNAL_PORT),
  /** sip_proxy: nodes holding each registration (the responsible one and its replicas). */
  replicas: num().int().min(1).max(5).default(DEFAULT_REPLICAS),
  /** sip_proxy: public listeners; default udp and tcp on <ip>:5060. */
  sipListen: list(z.string()).default([]),
  /** sip_proxy: worker processes serving this host's SIP ports (docs/sip-cluster.md, "Every core of a host"). */
  sipWorkers: num().int().min(1).max(64).default(1),
  /** sip_workers > 1: the member address of each worker (the ring places members by address). */
  workerIps: list(z.string().min(2)).default([]),
  /** sip_proxy: listeners opened with SO_REUSEPORT, shared with the host's other workers (set by the supervisor). */
  sipShared: list(z.string()).default([]),
  /** sip_proxy: domains served (first = digest realm); default the platform domain. */
  sipDomains: list(z.string().min(1)).default([]),
  /** sip_proxy: users file ([[users]] username/password); without it the node serves the accounts of the provisioning database. */
  users: z.string().optional(),
  sipTlsCert: z.string().optional(),
  sipTlsKey: z.string().optional(),
  t1Ms: num().int().min(10).max(5000).default(500),
  minExpires: num().int().min(0).default(60),
  maxExpires: num().int().min(1).default(3600),
  algorithms: list(z.enum(["MD5", "SHA-256"])).default(["SHA-256", "MD5"]),
  /** sip_proxy: domains whose phones may answer digest challenges without qop (one answer per nonce). */
  digestWithoutQop: list(z.string().min(1)).default([]),
  sipRate: num().int().min(1).default(200),
  /** sip_proxy: the presence agent. */
  ...presenceShape,
  /** sip_proxy: connection caps, timeouts, header caps, contacts per AOR. */
  ...sipLimitsShape,
  /** provisioning_server: API port (default 9280) and address (default <ip>). */
  apiPort: num().int().min(0).max(65535).default(DEFAULT_API_PORT),
  apiHost: z.string().optional(),
  /** provisioning_server: tokens `name:read|write:secret` (also THOR_API_TOKENS). */
  apiTokens: list(z.string()).default([]),
  /** provisioning_server: a file of tokens, one `name:read|write:secret` per line (keeps them off the command line). */
  apiTokensFile: z.string().optional(),
  /** provisioning_server: serve HTTPS with the node's certificate; default: on unless the API listens on a loopback address. */
  apiTls: bool().optional(),
  /** provisioning_server and xcap_server: allow plain HTTP on a non-loopback address (tokens and accounts in clear). */
  apiAllowPlainHttp: bool().default(false),
  /** xcap_server: HTTP port (default 9290) and address (default <ip>). */
  xcapPort: num().int().min(0).max(65535).default(DEFAULT_XCAP_PORT),
  xcapHost: z.string().optional(),
  /** xcap_server: serve HTTPS with the node's certificate; default: on unless the XCAP address is loopback. */
  xcapTls: bool().optional(),
  /** xcap_server: largest document in bytes, and documents per user. */
  xcapMaxDocument: num().int().min(1024).max(10_485_760).default(DEFAULT_MAX_DOCUMENT_BYTES),
  xcapMaxDocuments: num().int().min(1).max(10_000).default(DEFAULT_MAX_DOCUMENTS_PER_USER),
  /** media_relay: listen addresses (one IPv4, one IPv6 at most; default <ip>). */
  mediaListen: list(z.string().min(2)).default([]),
  /** media_relay: the addresses written into SDP, in the order of media_listen (behind 1:1 NAT). */
  mediaAdvertise: list(z.string().min(2)).default([]),
  mediaPortMin: num().int().min(1024).max(65534).default(DEFAULT_MEDIA_PORT_MIN),
  mediaPortMax: num().int().min(1025).max(65535).default(DEFAULT_MEDIA_PORT_MAX),
  /** media_relay: seconds without RTP before a session is removed. */
  mediaInactivityS: num().int().min(1).max(86_400).default(DEFAULT_MEDIA_INACTIVITY_MS / 1000),
  /** media_relay: the engine: the built-in relay, or rtpengine over its ng protocol (rtpengine_ng). */
  mediaEngine: z.enum(["builtin", "rtpengine"]).default("builtin"),
  /** media_relay with the built-in engine: the data path (native forwarding thread, or Node sockets); unset: native when built. */
  mediaDataPath: z.enum(["native", "js"]).optional(),
  /** media_relay with media_engine=rtpengine: rtpengine's ng control address host:port. */
  rtpengineNg: z.string().default("127.0.0.1:2223"),
  /** sip_proxy: which calls get a media relay: always, nat (a side looks NATed) or off. */
  mediaPolicy: z.enum(["always", "nat", "off"]).default(DEFAULT_NAT_POLICY),
  mediaTimeoutMs: num().int().min(50).max(30_000).default(DEFAULT_RELAY_TIMEOUT_MS),
});

type NodeConfig = z.infer<typeof schema>;

function readTokensFile(path: string): string[] {
  try {
    return readFileSync(path, "utf8").split(/\r?\n/).map((l) => l.trim()).filter((l) => l !== "" && !l.startsWith("#"));
  } catch (err) {
    throw new ConfigError(`api_tokens_file: cannot read ${path}: ${(err as Error).message}`);
  }
}

function provisioningRole(cfg: NodeConfig): ProvisioningServerRole {
  const tokens = parseTokens(cfg);
  if (tokens.length === 0) throw new ConfigError("provisioning_server needs at least one API token: give api_tokens_file (one name:write:secret per line) or api_tokens / THOR_API_TOKENS");
  const host = cfg.apiHost ?? cfg.ip;
  // HTTPS by default, with the node's certificate of the operator CA; plain HTTP only on loopback or when allowed.
  const tls = (cfg.apiTls ?? !(isLoopback(host) || cfg.apiAllowPlainHttp)) ? tlsPaths(cfg) : undefined;
  return new ProvisioningServerRole({
    host,
    port: cfg.apiPort,
    allowPlainHttp: cfg.apiAllowPlainHttp,
    tokens,
    ...(tls ? { tls: { cert: readFileSync(tls.cert, "utf8"), key: readFileSync(tls.key, "utf8") } } : {}),
    version: VERSION,
  });
}

/** The API tokens of `api_tokens` and `api_tokens_file`. */
function parseTokens(cfg: NodeConfig) {
  return [...cfg.apiTokens, ...(cfg.apiTokensFile ? readTokensFile(cfg.apiTokensFile) : [])].map((t) => {
    try {
      return parseToken(t);
    } catch (err) {
      throw new ConfigError(`api_tokens: ${err instanceof Error ? err.message : String(err)}`);
    }
  });
}

function mediaRelayRole(cfg: NodeConfig, log: Logger): MediaRelayRole {
  if (cfg.mediaPortMax <= cfg.mediaPortMin) throw new ConfigError("media_port_max must be above media_port_min");
  if (cfg.mediaEngine === "rtpengine") {
    const ng = parseNgAddress(cfg.rtpengineNg);
    if (!ng) throw new ConfigError(`invalid rtpengine_ng "${cfg.rtpengineNg}" (expected HOST:PORT)`);
    return new MediaRelayRole(new RtpengineEngine({ ...ng, logger: log.child({ part: "rtpengine" }) }));
  }
  const listen = cfg.mediaListen.length > 0 ? cfg.mediaListen : [cfg.ip];
  if (cfg.mediaAdvertise.length > listen.length) throw new ConfigError("media_advertise has more entries than media_listen");
  return new MediaRelayRole(
    new MediaRelay({
      interfaces: listen.map((l, i) => ({ listen: l, ...(cfg.mediaAdvertise[i] ? { advertise: cfg.mediaAdvertise[i] } : {}) })),
      portMin: cfg.mediaPortMin,
      portMax: cfg.mediaPortMax,
      inactivityMs: cfg.mediaInactivityS * 1000,
      logger: log.child({ part: "media" }),
      ...(cfg.mediaDataPath ? { dataPath: cfg.mediaDataPath } : {}),
    }),
  );
}

function servedDomains(cfg: NodeConfig, role: string): string[] {
  const domains = cfg.sipDomains.length > 0 ? cfg.sipDomains : cfg.domain ? [cfg.domain] : [];
  if (domains.length === 0) throw new ConfigError(`${role} needs the domains it serves: give sip_domains or domain`);
  return domains;
}

function xcapRole(cfg: NodeConfig): XcapServerRole {
  const host = cfg.xcapHost ?? cfg.ip;
  // As for the provisioning API: HTTPS by default, plain HTTP only on loopback or when allowed.
  const tls = (cfg.xcapTls ?? !(isLoopback(host) || cfg.apiAllowPlainHttp)) ? tlsPaths(cfg) : undefined;
  return new XcapServerRole({
    host,
    port: cfg.xcapPort,
    domains: servedDomains(cfg, "xcap_server"),
    tokens: parseTokens(cfg),
    algorithms: cfg.algorithms,
    holders: cfg.replicas,
    limits: { maxDocumentBytes: cfg.xcapMaxDocument, maxDocumentsPerUser: cfg.xcapMaxDocuments },
    ...(tls ? { tls: { cert: readFileSync(tls.cert, "utf8"), key: readFileSync(tls.key, "utf8") } } : {}),
  });
}

function sipProxyRole(cfg: NodeConfig, keys: KeyRing): SipProxyRole {
  const domains = servedDomains(cfg, "sip_proxy");
  const realm = domains[0]!;
  const shared = parseListeners(cfg.sipShared).map((l) => ({ ...l, shared: true }));
  // Shared listeners first: they are the ones named in Record-Route and Contact (ListenSpec.shared).
  const listen = [...shared, ...parseListeners(cfg.sipListen.length > 0 ? cfg.sipListen : [`udp:${cfg.ip}:5060`, `tcp:${cfg.ip}:5060`])];
  const opener = shared.length > 0 ? loadSharedOpener() : undefined;
  if (typeof opener === "string") throw new ConfigError(`sip_shared: ${opener}`);
  const needsTls = listen.some((l) => l.transport === "tls" || l.transport === "wss");
  const limits = sipLimits(cfg);
  if (needsTls && !(cfg.sipTlsCert && cfg.sipTlsKey)) throw new ConfigError("tls and wss SIP listeners need sip_tls_cert and sip_tls_key");
  return new SipProxyRole({
    listen,
    ...(opener ? { openShared: opener } : {}),
    internal: { host: cfg.ip, port: cfg.sipInternalPort },
    replicas: cfg.replicas,
    domains,
    keys,
    ...(cfg.digestWithoutQop.length > 0 ? { digestWithoutQop: cfg.digestWithoutQop } : {}),
    credentials: cfg.users ? loadUsers(cfg.users, realm) : new MemoryCredentialStore(realm),
    // Without a users file the node serves the accounts of the provisioning database.
    ...(cfg.users ? {} : { subscribers: new SubscriberBinding({ holders: cfg.replicas }) }),
    ...(needsTls ? { tls: { cert: readFileSync(cfg.sipTlsCert!, "utf8"), key: readFileSync(cfg.sipTlsKey!, "utf8") } } : {}),
    timers: { t1: cfg.t1Ms },
    registrar: { minExpires: cfg.minExpires, maxExpires: cfg.maxExpires, maxContacts: limits.maxContacts },
    connectionLimits: limits.connectionLimits,
    messageLimits: limits.messageLimits,
    algorithms: cfg.algorithms,
    rate: cfg.sipRate,
    userAgent: `sipthor/${VERSION}`,
    ...(cfg.mediaPolicy !== "off" ? { media: { policy: cfg.mediaPolicy, timeoutMs: cfg.mediaTimeoutMs } } : {}),
    presence: presenceSettings(cfg),
  });
}

/** Per-role counters of a node's roles under conventional names; everything else a role counts stays on Thor.Statistics. */
const ROLE_COUNTERS: ReadonlyArray<{ stat: string; name: string; help: string; labels?: Record<string, string> }> = [
  { stat: "registrations", name: "thor_sip_registrations_total", help: "REGISTER requests accepted by the registrar" },
  { stat: "calls", name: "thor_sip_calls_total", help: "Initial INVITEs this node took from clients and forwarded" },
  { stat: "authFailures", name: "thor_sip_auth_failures_total", help: "Requests refused for bad credentials" },
  { stat: "challenges", name: "thor_sip_auth_challenges_total", help: "Digest challenges sent" },
  { stat: "forwarded", name: "thor_sip_forwarded_total", help: "Requests forwarded by the proxy core" },
  { stat: "rejected", name: "thor_sip_rejected_total", help: "Requests answered with 4xx-6xx by the proxy core" },
  { stat: "replicatedOut", name: "thor_sip_replication_total", help: "Binding replications sent to and received from holders", labels: { direction: "out" } },
  { stat: "replicatedIn", name: "thor_sip_replication_total", help: "Binding replications sent to and received from holders", labels: { direction: "in" } },
  { stat: "holderFailovers", name: "thor_sip_replication_failures_total", help: "Calls to a registration holder that failed over to the next holder" },
  { stat: "handedOver", name: "thor_sip_bindings_handed_over_total", help: "Bindings handed to new holders after a ring change" },
];
const ROLE_GAUGES: ReadonlyArray<{ stat: string; name: string; help: string }> = [
  { stat: "bindings", name: "thor_sip_bindings", help: "Registration bindings held by this node (own and replicas)" },
  { stat: "aors", name: "thor_sip_aors", help: "Addresses of record with bindings on this node" },
  { stat: "subscribers", name: "thor_provisioning_cache_size", help: "Accounts in this node's subscriber cache" },
];

function nodeMetrics(metrics: ThorMetrics, node: NodeRuntime, control: ControlLink, lookup: LookupServer | undefined): void {
  const stat = (name: string) => {
    let sum: number | undefined;
    for (const s of Object.values(node.roleStatistics())) if (typeof s[name] === "number") sum = (sum ?? 0) + s[name]!;
    return sum;
  };
  const grouped = new Map<string, typeof ROLE_COUNTERS[number][]>();
  for (const c of ROLE_COUNTERS) grouped.set(c.name, [...(grouped.get(c.name) ?? []), c]);
  for (const [name, list] of grouped) {
    const labelNames = Object.keys(list[0]!.labels ?? {});
    metrics.counter(name, list[0]!.help, labelNames, () => list.flatMap((c) => (stat(c.stat) === undefined ? [] : [[c.labels ?? {}, stat(c.stat)!] as const])));
  }
  for (const g of ROLE_GAUGES) metrics.gauge(g.name, g.help, [], () => (stat(g.stat) === undefined ? [] : [[{}, stat(g.stat)!] as const]));
  metrics.gauge("thor_node_cut_off", "1 while this node is cut off from the cluster (hears no manager while its peers moved on): it answers clients 503", [], () => [[{}, node.cutOffReason === undefined ? 0 : 1] as const]);
  metrics.gauge("thor_ring_nodes", "Nodes on each role's ring (draining nodes excluded)", ["role"], () => {
    const map = node.roleMap();
    return map ? map.roles().map((role) => [{ role }, map.ring(role)?.nodes.length ?? 0] as const) : [];
  });
  metrics.gauge("thor_ring_share", "This node's share (0..1) of each of its roles' rings", ["role"], () => {
    const map = node.roleMap();
    const self = node.self();
    return map ? self.roles.map((role) => [{ role }, map.ring(role)?.shareOf(self.ip) ?? 0] as const) : [];
  });
  metrics.gauge("thor_membership_members", "Members in the applied snapshot", [], () => node.currentSnapshot()?.members.length ?? 0);
  metrics.gauge("thor_membership_epoch", "Manager term of the applied snapshot", [], () => node.currentSnapshot()?.epoch ?? 0);
  metrics.gauge("thor_node_draining", "1 while this node is draining", [], () => (node.self().attrs["draining"] === true ? 1 : 0));
  metrics.counter("thor_control_calls_total", "Control-link calls made by this node, by outcome", ["outcome"], () => [
    [{ outcome: "ok" }, control.stats.callsSent - control.stats.callsFailed],
    [{ outcome: "error" }, control.stats.callsFailed],
  ]);
  metrics.counter("thor_control_requests_total", "Control-link requests served (ok) or refused by this node", ["outcome"], () => [
    [{ outcome: "served" }, control.stats.requestsServed],
    [{ outcome: "refused" }, control.stats.refused],
    [{ outcome: "protocol_error" }, control.stats.protocolErrors],
  ]);
  if (lookup) {
    metrics.counter("thor_lookups_total", "Lookups answered on the public lookup interface", [], () => lookup.answered);
    metrics.gauge("thor_lookup_connections", "Open lookup connections", [], () => lookup.connections);
  }
}

/** The cluster secret from `<ca_dir>/secrets`, re-read periodically (rotation without a restart). */
function clusterSecrets(cfg: NodeConfig, log: Logger): { keys: KeyRing; stop: () => void } {
  const keys = loadSecrets(cfg.caDir);
  if (!keys) throw new ConfigError(`sip_proxy needs the cluster secret: no key in ${secretsDir(cfg.caDir)} (run thor ca secret new --dir ${cfg.caDir} and copy the directory to every member)`);
  const stop = watchSecrets(cfg.caDir, keys, DEFAULT_SECRET_POLL_MS, (message) => log.warn({ err: message }, "cluster secrets not reloaded"));
  return { keys, stop };
}

/** `--sip-workers N`: this process supervises N worker nodes (src/cli/sip-workers.ts). */
async function superviseWorkers(cfg: NodeConfig, log: Logger): Promise<void> {
  const opener = loadSharedOpener();
  if (typeof opener === "string") log.warn({ reason: opener }, `sip_workers ${cfg.sipWorkers}: no shared ports, running one worker`);
  const plans = planWorkers(cfg, typeof opener !== "string");
  const supervisor = new WorkerSupervisor(plans, [process.execPath, ...process.argv.slice(1)], log);
  supervisor.start();
  await untilSignal(log, () => supervisor.stop());
}

export function register(program: Command): void {
  presenceFlags(sipLimitFlags(memberFlags(program.command("node").description("run a node: join the overlay and serve roles"))))
    .option("--ip <addr>", "our address (also the lookup listen address)")
    .option("--roles <list>", "comma-separated roles, e.g. sip_proxy,media_relay")
    .option("--lookup-port <port>", "public lookup interface port (default 9500, 0 = off)")
    .option("--presence-interval-ms <ms>", "presence announcement interval (default 2000)")
    .option("--cut-off-ms <ms>", `a node that hears no manager this long asks its peers whether the cluster moved on without it; if so (or none answers) it answers clients 503 and holds no AOR (default ${DEFAULT_CUT_OFF_MS})`)
    .option("--statistics-interval-ms <ms>", "Thor.Statistics publication interval (default 10000)")
    .option("--sip-listen <list>", "sip_proxy listeners udp|tcp|tls|ws|wss:HOST:PORT (default udp+tcp on <ip>:5060)")
    .option("--sip-workers <n>", "sip_proxy: worker processes for this host's cores, each a node of its own sharing the UDP SIP ports (SO_REUSEPORT); needs --worker-ips (default 1)")
    .option("--worker-ips <list>", "with --sip-workers: each worker's member address (certificate <name>-w<k>), one per worker")
    .option("--sip-shared <list>", "sip_proxy: listeners shared with the host's other workers (SO_REUSEPORT; set by --sip-workers)")
    .option("--sip-domains <list>", "sip_proxy domains served, the first is the digest realm (default: --domain)")
    .option("--users <file>", "sip_proxy users file: TOML [[users]] username/password")
    .option("--sip-tls-cert <file>", "certificate (PEM) for tls/wss SIP listeners")
    .option("--sip-tls-key <file>", "key (PEM) for tls/wss SIP listeners")
    .option("--t1-ms <ms>", "SIP timer T1 (default 500)")
    .option("--min-expires <s>", "Min-Expires for registrations (default 60)")
    .option("--max-expires <s>", "longest registration granted (default 3600)")
    .option("--algorithms <list>", "digest algorithms offered, preferred first (default SHA-256,MD5)")
    .option("--digest-without-qop <list>", "sip_proxy: domains whose phones may answer digest challenges without qop (legacy; one answer per nonce)")
    .option("--sip-rate <n>", "SIP requests per second per source before dropping (default 200)")
    .option("--control-port <port>", "control link port, mutual TLS between members (default 9600)")
    .option("--sip-internal-port <port>", "sip_proxy internal SIP listener between members, TLS (default 5070)")
    .option("--replicas <n>", "sip_proxy: nodes holding each registration, responsible one included (default 2)")
    .option("--api-port <port>", "provisioning_server: API port (default 9280)")
    .option("--api-host <addr>", "provisioning_server: API listen address (default --ip)")
    .option("--api-tokens <list>", "provisioning_server, xcap_server: API tokens name:read|write:secret, comma-separated (prefer --api-tokens-file or THOR_API_TOKENS: argv is visible to every user)")
    .option("--api-tokens-file <file>", "provisioning_server, xcap_server: file of API tokens, one name:read|write:secret per line")
    .option("--api-tls [bool]", "provisioning_server: serve HTTPS with the node's certificate (default: on unless the API address is loopback)")
    .option("--api-allow-plain-http", "provisioning_server, xcap_server: allow plain HTTP on a non-loopback address")
    .option("--xcap-port <port>", "xcap_server: HTTP port (default 9290)")
    .option("--xcap-host <addr>", "xcap_server: listen address (default --ip)")
    .option("--xcap-tls [bool]", "xcap_server: serve HTTPS with the node's certificate (default: on unless the XCAP address is loopback)")
    .option("--xcap-max-document <bytes>", "xcap_server: largest document (default 65536)")
    .option("--xcap-max-documents <n>", "xcap_server: documents per user (default 32)")
    .option("--media-listen <list>", "media_relay: listen addresses, one IPv4 and one IPv6 at most (default --ip)")
    .option("--media-advertise <list>", "media_relay: addresses written into SDP, in the order of --media-listen (default the listen address)")
    .option("--media-port-min <port>", `media_relay: first port of the RTP range (default ${DEFAULT_MEDIA_PORT_MIN})`)
    .option("--media-port-max <port>", `media_relay: last port of the RTP range (default ${DEFAULT_MEDIA_PORT_MAX})`)
    .option("--media-inactivity-s <s>", `media_relay: seconds without RTP before a session is removed (default ${DEFAULT_MEDIA_INACTIVITY_MS / 1000})`)
    .option("--media-engine <name>", "media_relay: builtin or rtpengine (default builtin)")
    .option("--media-data-path <path>", "media_relay with the built-in engine: native (the forwarding thread of native/media-forwarder) or js (Node sockets) (default native when built, else js with a warning)")
    .option("--rtpengine-ng <host:port>", "media_relay with --media-engine rtpengine: rtpengine's ng control address (default 127.0.0.1:2223)")
    .option("--media-policy <policy>", `sip_proxy: calls relayed: always, nat (a side looks NATed) or off (default ${DEFAULT_NAT_POLICY})`)
    .option("--media-timeout-ms <ms>", `sip_proxy: a relay's time to answer before the next is tried (default ${DEFAULT_RELAY_TIMEOUT_MS})`)
    .action(async (flags: Record<string, unknown>) => {
      const cfg = loadMemberConfig(schema, "node", flags);
      const log = memberLogger(cfg, "node");
      if (cfg.sipWorkers > 1) return superviseWorkers(cfg, log);
      const secrets = cfg.roles.includes("sip_proxy") ? clusterSecrets(cfg, log) : undefined;
      const roles: Role[] = cfg.roles.map((r) => (r === "sip_proxy" ? sipProxyRole(cfg, secrets!.keys) : r === "provisioning_server" ? provisioningRole(cfg) : r === "xcap_server" ? xcapRole(cfg) : r === "media_relay" ? mediaRelayRole(cfg, log) : new AdvertisedRole(r)));
      const servers = eventServerSource(cfg);
      const identity = await loadIdentity(cfg);
      const bus = await connectEvents(cfg, servers, identity, log);
      let runtime: NodeRuntime | undefined;
      const control = new ControlLink({
        identity,
        logger: log.child({ part: "control" }),
        host: cfg.ip,
        port: cfg.controlPort,
        // Nodes, and operator tools for read-only queries (the methods check the OU).
        accept: [parsePassport("OU=node"), parsePassport("OU=monitor"), parsePassport("OU=operator")],
        dialFrom: cfg.ip,
        resolve: (id) => {
          const m = runtime?.roleMap()?.members.find((e) => e.id === id);
          const port = m?.ports["control"];
          return m && port ? { host: m.ip, port } : undefined;
        },
      });
      const controlAddr = await control.start();
      log.info({ port: controlAddr.port }, "control link listening");
      runtime = new NodeRuntime({
        bus,
        logger: log,
        id: cfg.name,
        ip: cfg.ip,
        version: VERSION,
        roles,
        control,
        identity,
        ports: { control: controlAddr.port, ...(cfg.lookupPort > 0 ? { lookup: cfg.lookupPort } : {}) },
        presenceIntervalMs: cfg.presenceIntervalMs,
        statisticsIntervalMs: cfg.statisticsIntervalMs,
        cutOffMs: cfg.cutOffMs,
      });
      const node = runtime;
      const lookup = cfg.lookupPort > 0 ? new LookupServer({ host: cfg.ip, port: cfg.lookupPort, logger: log.child({ part: "lookup" }), resolve: () => node.roleMap() }) : undefined;
      if (lookup) {
        const addr = await lookup.start();
        log.info({ port: addr.port }, "lookup interface listening");
      }
      await node.start();
      serveDrain(control, node);
      const ops = await startOps(cfg, log, "node", (metrics, health) => {
        busMetrics(metrics, health, bus);
        nodeMetrics(metrics, node, control, lookup);
        for (const [name] of Object.entries(node.readiness())) health.check(name, () => node.readiness()[name] ?? { ok: false, detail: "gone" });
      });
      await untilSignal(log, async () => {
        await ops?.stop();
        await node.stop();
        await control.stop();
        await lookup?.stop();
        await bus.close();
        identity.close();
        secrets?.stop();
      });
    });
}
