import { readFileSync } from "node:fs";
import type { Command } from "commander";
import { z } from "zod";
import { AdvertisedRole, ControlLink, NodeRuntime, DEFAULT_CONTROL_PORT, DEFAULT_PRESENCE_INTERVAL_MS, DEFAULT_STATISTICS_INTERVAL_MS, type Role } from "../../node/index.js";
import { LookupServer, ROLE_NAME } from "../../overlay/index.js";
import { DEFAULT_REPLICAS, DEFAULT_SIP_INTERNAL_PORT, ProvisioningServerRole, SipProxyRole, SubscriberBinding } from "../../roles/index.js";
import { DEFAULT_API_PORT, parseToken } from "../../provisioning/index.js";
import { MemoryCredentialStore } from "../../sip/index.js";
import { bool, ConfigError, list, num } from "../config.js";
import { connectEvents, eventServerSource, loadIdentity, loadMemberConfig, memberFlags, memberLogger, memberSchema, tlsPaths, untilSignal } from "../member.js";
import { loadUsers, parseListeners } from "../sip-config.js";
import { VERSION } from "../version.js";
import { DEFAULT_SECRET_POLL_MS, loadSecrets, parsePassport, secretsDir, watchSecrets } from "../../pki/index.js";
import type { KeyRing, Logger } from "../../base/index.js";

const schema = memberSchema.extend({
  ip: z.string().min(2),
  roles: list(z.string().regex(ROLE_NAME, "role names are lowercase letters, digits and _")).default([]),
  /** Public lookup interface port (0 = disabled). */
  lookupPort: num().int().min(0).max(65535).default(9500),
  presenceIntervalMs: num().int().min(100).default(DEFAULT_PRESENCE_INTERVAL_MS),
  statisticsIntervalMs: num().int().min(100).default(DEFAULT_STATISTICS_INTERVAL_MS),
  /** Control link port (member-to-member requests over mutual TLS). */
  controlPort: num().int().min(0).max(65535).default(DEFAULT_CONTROL_PORT),
  /** sip_proxy: internal SIP listener between members (TLS, node certificates). */
  sipInternalPort: num().int().min(0).max(65535).default(DEFAULT_SIP_INTERNAL_PORT),
  /** sip_proxy: nodes holding each registration (the responsible one and its replicas). */
  replicas: num().int().min(1).max(5).default(DEFAULT_REPLICAS),
  /** sip_proxy: public listeners; default udp and tcp on <ip>:5060. */
  sipListen: list(z.string()).default([]),
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
  /** provisioning_server: API port (default 9280) and address (default <ip>). */
  apiPort: num().int().min(0).max(65535).default(DEFAULT_API_PORT),
  apiHost: z.string().optional(),
  /** provisioning_server: tokens `name:read|write:secret` (also THOR_API_TOKENS). */
  apiTokens: list(z.string()).default([]),
  /** provisioning_server: serve HTTPS with the node's certificate. */
  apiTls: bool().default(false),
});

type NodeConfig = z.infer<typeof schema>;

function provisioningRole(cfg: NodeConfig): ProvisioningServerRole {
  if (cfg.apiTokens.length === 0) throw new ConfigError("provisioning_server needs at least one API token: give api_tokens (name:write:secret, name:read:secret)");
  const tls = cfg.apiTls ? tlsPaths(cfg) : undefined;
  return new ProvisioningServerRole({
    host: cfg.apiHost ?? cfg.ip,
    port: cfg.apiPort,
    tokens: cfg.apiTokens.map((t) => {
      try {
        return parseToken(t);
      } catch (err) {
        throw new ConfigError(`api_tokens: ${err instanceof Error ? err.message : String(err)}`);
      }
    }),
    ...(tls ? { tls: { cert: readFileSync(tls.cert, "utf8"), key: readFileSync(tls.key, "utf8") } } : {}),
    version: VERSION,
  });
}

function sipProxyRole(cfg: NodeConfig, keys: KeyRing): SipProxyRole {
  const domains = cfg.sipDomains.length > 0 ? cfg.sipDomains : cfg.domain ? [cfg.domain] : [];
  if (domains.length === 0) throw new ConfigError("sip_proxy needs the domains it serves: give sip_domains or domain");
  const realm = domains[0]!;
  const listen = parseListeners(cfg.sipListen.length > 0 ? cfg.sipListen : [`udp:${cfg.ip}:5060`, `tcp:${cfg.ip}:5060`]);
  const needsTls = listen.some((l) => l.transport === "tls" || l.transport === "wss");
  if (needsTls && !(cfg.sipTlsCert && cfg.sipTlsKey)) throw new ConfigError("tls and wss SIP listeners need sip_tls_cert and sip_tls_key");
  return new SipProxyRole({
    listen,
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
    registrar: { minExpires: cfg.minExpires, maxExpires: cfg.maxExpires },
    algorithms: cfg.algorithms,
    rate: cfg.sipRate,
    userAgent: `sipthor/${VERSION}`,
  });
}

/** The cluster secret from `<ca_dir>/secrets`, re-read periodically (rotation without a restart). */
function clusterSecrets(cfg: NodeConfig, log: Logger): { keys: KeyRing; stop: () => void } {
  const keys = loadSecrets(cfg.caDir);
  if (!keys) throw new ConfigError(`sip_proxy needs the cluster secret: no key in ${secretsDir(cfg.caDir)} (run thor ca secret new --dir ${cfg.caDir} and copy the directory to every member)`);
  const stop = watchSecrets(cfg.caDir, keys, DEFAULT_SECRET_POLL_MS, (message) => log.warn({ err: message }, "cluster secrets not reloaded"));
  return { keys, stop };
}

export function register(program: Command): void {
  memberFlags(program.command("node").description("run a node: join the overlay and serve roles"))
    .option("--ip <addr>", "our address (also the lookup listen address)")
    .option("--roles <list>", "comma-separated roles, e.g. sip_proxy,media_relay")
    .option("--lookup-port <port>", "public lookup interface port (default 9500, 0 = off)")
    .option("--presence-interval-ms <ms>", "presence announcement interval (default 2000)")
    .option("--statistics-interval-ms <ms>", "Thor.Statistics publication interval (default 10000)")
    .option("--sip-listen <list>", "sip_proxy listeners udp|tcp|tls|ws|wss:HOST:PORT (default udp+tcp on <ip>:5060)")
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
    .option("--api-tokens <list>", "provisioning_server: API tokens name:read|write:secret, comma-separated")
    .option("--api-tls", "provisioning_server: serve HTTPS with the node's certificate")
    .action(async (flags: Record<string, unknown>) => {
      const cfg = loadMemberConfig(schema, "node", flags);
      const log = memberLogger(cfg, "node");
      const secrets = cfg.roles.includes("sip_proxy") ? clusterSecrets(cfg, log) : undefined;
      const roles: Role[] = cfg.roles.map((r) => (r === "sip_proxy" ? sipProxyRole(cfg, secrets!.keys) : r === "provisioning_server" ? provisioningRole(cfg) : new AdvertisedRole(r)));
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
        accept: [parsePassport("OU=node"), parsePassport("OU=monitor")],
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
      });
      const node = runtime;
      const lookup = cfg.lookupPort > 0 ? new LookupServer({ host: cfg.ip, port: cfg.lookupPort, logger: log.child({ part: "lookup" }), resolve: () => node.roleMap() }) : undefined;
      if (lookup) {
        const addr = await lookup.start();
        log.info({ port: addr.port }, "lookup interface listening");
      }
      await node.start();
      await untilSignal(log, async () => {
        await node.stop();
        await control.stop();
        await lookup?.stop();
        await bus.close();
        identity.close();
        secrets?.stop();
      });
    });
}
