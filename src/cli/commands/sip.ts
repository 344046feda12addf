import { readFileSync } from "node:fs";
import type { Command } from "commander";
import { z } from "zod";
import { basename } from "node:path";
import { KeyRing, KEY_ID, systemClock } from "../../base/index.js";
import { readSecretFile } from "../../pki/index.js";
import { MemoryCredentialStore, SipServer, systemResolver } from "../../sip/index.js";
import { ConfigError, list, loadConfig, num } from "../config.js";
import { loadUsers, parseListeners, presenceFlags, presenceSettings, presenceShape, sipLimitFlags, sipLimits, sipLimitsShape } from "../sip-config.js";
import { presenceFeature, presenceStatistics } from "../../roles/index.js";
import { createLogger } from "../logging.js";
import { untilSignal } from "../member.js";
import { VERSION } from "../version.js";
import { startOps } from "../ops.js";

const schema = z.object({
  domain: list(z.string().min(1)).refine((d) => d.length > 0, "at least one domain"),
  listen: list(z.string()).default(["udp:0.0.0.0:5060", "tcp:0.0.0.0:5060"]),
  users: z.string().optional(),
  tlsCert: z.string().optional(),
  tlsKey: z.string().optional(),
  tlsCa: z.string().optional(),
  t1Ms: num().int().min(10).max(5000).default(500),
  minExpires: num().int().min(0).default(60),
  maxExpires: num().int().min(1).default(3600),
  algorithms: list(z.enum(["MD5", "SHA-256"])).default(["SHA-256", "MD5"]),
  rate: num().int().min(1).default(200),
  ...sipLimitsShape,
  ...presenceShape,
  secretFile: z.string().optional(),
  digestWithoutQop: list(z.string().min(1)).default([]),
  dnsServer: list(z.string().regex(/^(?:\d{1,3}(?:\.\d{1,3}){3}|\[[0-9A-Fa-f:.]+\])(?::\d{1,5})?$/, "an IP address, optionally with :port")).default([]),
  logLevel: z.enum(["trace", "debug", "info", "warn", "error", "fatal"]).default("info"),
  logFormat: z.enum(["json", "pretty", "auto"]).default("auto"),
  /** Operations port `host:port` (`/metrics`, `/health`, `/ready`); off when unset. */
  metricsListen: z.string().optional(),
});

export function register(program: Command): void {
  const cmd = program
    .command("sip")
    .description("run a single-node SIP proxy and registrar")
    .option("--config <file>", "TOML configuration file ([sip] table)")
    .option("--domain <list>", "domains served (each is the digest realm of its accounts)")
    .option("--listen <list>", "listeners: udp:IP:PORT, tcp:..., tls:..., ws:..., wss:... (default udp+tcp on 0.0.0.0:5060)")
    .option("--users <file>", "TOML file with [[users]] username/password")
    .option("--tls-cert <file>", "certificate (PEM) for tls/wss listeners")
    .option("--tls-key <file>", "key (PEM) for tls/wss listeners")
    .option("--tls-ca <file>", "CA certificates (PEM) that outgoing TLS connections trust (default: the system's)")
    .option("--t1-ms <ms>", "SIP timer T1 (default 500)")
    .option("--min-expires <s>", "Min-Expires for registrations (default 60)")
    .option("--max-expires <s>", "longest registration granted (default 3600)")
    .option("--algorithms <list>", "digest algorithms offered, preferred first (default SHA-256,MD5)")
    .option("--secret-file <file>", "HMAC key (0600) signing Record-Route entries, flow tokens and nonces, e.g. <ca_dir>/secrets/<kid>.key (default: an ephemeral key)")
    .option("--digest-without-qop <list>", "domains whose phones may answer digest challenges without qop (legacy; one answer per nonce)")
    .option("--rate <n>", "requests per second per source before dropping (default 200)")
    .option("--dns-server <list>", "DNS servers (IP or [IPv6], optional :port) for RFC 3263 lookups of foreign targets (default: the system's)")
    .option("--log-level <level>", "trace|debug|info|warn|error")
    .option("--log-format <format>", "json|pretty|auto")
    .option("--metrics-listen <host:port>", "serve /metrics, /health and /ready on this address (default off)");
  presenceFlags(sipLimitFlags(cmd)).action(async (flags: Record<string, unknown>) => {
      const { config, ...rest } = flags;
      const cfg = loadConfig(schema, { component: "sip", file: typeof config === "string" ? config : undefined, flags: rest });
      const listen = parseListeners(cfg.listen);
      const realm = cfg.domain[0]!;
      const credentials = cfg.users ? loadUsers(cfg.users, realm) : new MemoryCredentialStore(realm);
      const log = createLogger({ name: "sip", level: cfg.logLevel, format: cfg.logFormat });
      const keys = cfg.secretFile ? new KeyRing([readSecretFile(cfg.secretFile, secretId(cfg.secretFile))]) : KeyRing.ephemeral();
      if (!cfg.secretFile) log.warn("no --secret-file: Record-Route entries and nonces are signed with an ephemeral key, dialogs won't survive a restart");
      const tls = cfg.tlsCert && cfg.tlsKey ? { cert: readFileSync(cfg.tlsCert, "utf8"), key: readFileSync(cfg.tlsKey, "utf8"), ...(cfg.tlsCa ? { ca: readFileSync(cfg.tlsCa, "utf8") } : {}) } : undefined;
      if (listen.some((l) => l.transport === "tls" || l.transport === "wss") && !tls) throw new ConfigError("tls and wss listeners need --tls-cert and --tls-key");
      const limits = sipLimits(cfg);
      const presenceCfg = presenceSettings(cfg);
      // Presence (SUBSCRIBE/PUBLISH) on the request pipeline; its NOTIFYs leave through the server built next.
      let server: SipServer | undefined;
      const presence = presenceCfg ? presenceFeature({ clock: systemClock, logger: log.child({ part: "presence" }), domains: cfg.domain, server: () => server, ...presenceCfg }) : undefined;
      server = new SipServer({
        logger: log,
        listen,
        domains: cfg.domain,
        credentials,
        ...(tls ? { tls } : {}),
        timers: { t1: cfg.t1Ms },
        registrar: { minExpires: cfg.minExpires, maxExpires: cfg.maxExpires, maxContacts: limits.maxContacts },
        connectionLimits: limits.connectionLimits,
        messageLimits: limits.messageLimits,
        algorithms: cfg.algorithms,
        keys,
        ...(cfg.digestWithoutQop.length > 0 ? { digestWithoutQop: cfg.digestWithoutQop } : {}),
        guard: { rate: cfg.rate, burst: cfg.rate * 2 },
        userAgent: `sipthor/${VERSION}`,
        ...(cfg.dnsServer.length > 0 ? { resolver: systemResolver(cfg.dnsServer) } : {}),
        ...(presence ? { interceptors: [presence.edge] } : {}),
      });
      await server.start();
      const ticker = presence ? setInterval(() => presence.agent.tick(), 1000).unref() : undefined;
      const sip = server;
      log.info({ listen: sip.transport.bound().map((b) => `${b.transport}:${b.host}:${b.boundPort}`), domains: cfg.domain, users: credentials.size }, "SIP server ready");
      const ops = await startOps({ name: "sip", metricsListen: cfg.metricsListen }, log, "sip", (metrics) => {
        const c = sip.proxy.counters;
        metrics.counter("thor_sip_registrations_total", "REGISTER requests accepted by the registrar", [], () => c.registrations);
        metrics.counter("thor_sip_auth_failures_total", "Requests refused for bad credentials", [], () => c.authFailures);
        metrics.counter("thor_sip_forwarded_total", "Requests forwarded by the proxy core", [], () => c.forwarded);
        metrics.gauge("thor_sip_bindings", "Registration bindings held", [], () => sip.proxy.location.store.size);
        if (presence) metrics.gauge("thor_presence_subscriptions", "Presence subscriptions held", [], () => presenceStatistics(presence.agent)["presenceSubscriptions"] ?? 0);
      });
      await untilSignal(log, async () => {
        if (ticker) clearInterval(ticker);
        await ops?.stop();
        await sip.stop();
      });
    });
}

/** The key id of a secret file: its name without `.key` when that is a valid id, else "file". */
function secretId(path: string): string {
  const name = basename(path).replace(/\.key$/, "");
  return KEY_ID.test(name) ? name : "file";
}
