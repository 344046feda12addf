/**
 * What every long-running member shares: its certificate files, how it finds
 * the event servers, its address and logging. Each command adds its own keys
 * to {@link memberSchema} and loads them with `loadConfig` (flags > env >
 * TOML file > defaults).
 */
import { join } from "node:path";
import type { Command } from "commander";
import { z } from "zod";
import { silentLogger, type Logger } from "../base/index.js";
import { ControlLink } from "../node/control/link.js";
import type { Entity } from "../overlay/index.js";
import { discoverEventServers, EventClient, parseEndpoint, type Endpoint } from "../events/index.js";
import { TlsIdentity, parsePassport, type Passport } from "../pki/index.js";
import { ConfigError, list, loadConfig } from "./config.js";
import { createLogger, type LogFormat } from "./logging.js";
import { installLastResort } from "./last-resort.js";

export const memberSchema = z.object({
  /** Our name: the certificate CN and member id. */
  name: z.string().min(1).max(64),
  /** CA directory made by `thor ca`; gives defaults for the four paths below. */
  caDir: z.string().default("./ca"),
  ca: z.string().optional(),
  cert: z.string().optional(),
  key: z.string().optional(),
  crl: z.string().optional(),
  /** Static event server list `host[:port]`, or empty to use DNS SRV on `domain`. */
  eventServers: list(z.string()).default([]),
  domain: z.string().optional(),
  /** DNS servers for SRV discovery (`ip[:port]`); default the system's. */
  dnsServers: list(z.string()).default([]),
  /** Passports an event server certificate must match (empty: any of our CA). */
  serverPassports: list(z.string(), ";").default([]),
  logLevel: z.enum(["trace", "debug", "info", "warn", "error", "fatal"]).default("info"),
  logFormat: z.enum(["json", "pretty", "auto"]).default("auto"),
  /** Operations port `host:port`: Prometheus `/metrics`, `/health`, `/ready` (off when unset). */
  metricsListen: z.string().optional(),
});

export type MemberConfig = z.infer<typeof memberSchema>;

/** Add the shared member flags to a command. */
export function memberFlags(cmd: Command): Command {
  return cmd
    .option("--config <file>", "TOML configuration file")
    .option("--name <name>", "member name (certificate CN)")
    .option("--ca-dir <dir>", "CA directory made by `thor ca` (default ./ca)")
    .option("--ca <file>", "CA certificate (default <ca-dir>/ca.crt)")
    .option("--cert <file>", "our certificate (default <ca-dir>/certs/<name>.crt)")
    .option("--key <file>", "our key (default <ca-dir>/certs/<name>.key)")
    .option("--crl <file>", "CRL (default <ca-dir>/crl.pem)")
    .option("--event-servers <list>", "comma-separated event servers host[:port] (default: DNS SRV)")
    .option("--domain <domain>", "platform domain, for _eventserver._tcp SRV discovery")
    .option("--dns-servers <list>", "DNS servers for discovery, ip[:port],...")
    .option("--server-passports <list>", "passports event servers must match, ';'-separated")
    .option("--log-level <level>", "trace|debug|info|warn|error")
    .option("--log-format <format>", "json|pretty|auto")
    .option("--metrics-listen <host:port>", "serve /metrics, /health and /ready on this address (default off)");
}

export function loadMemberConfig<S extends z.ZodObject<z.ZodRawShape>>(schema: S, component: string, flags: Record<string, unknown>): z.infer<S> {
  const { config, ...rest } = flags;
  return loadConfig(schema, { component, file: typeof config === "string" ? config : undefined, flags: rest });
}

export function tlsPaths(cfg: MemberConfig): { ca: string; cert: string; key: string; crl: string } {
  return {
    ca: cfg.ca ?? join(cfg.caDir, "ca.crt"),
    cert: cfg.cert ?? join(cfg.caDir, "certs", `${cfg.name}.crt`),
    key: cfg.key ?? join(cfg.caDir, "certs", `${cfg.name}.key`),
    crl: cfg.crl ?? join(cfg.caDir, "crl.pem"),
  };
}

export async function loadIdentity(cfg: MemberConfig): Promise<TlsIdentity> {
  const identity = await TlsIdentity.load(tlsPaths(cfg));
  identity.watchCrl();
  return identity;
}

export function memberLogger(cfg: MemberConfig, component: string): Logger {
  return createLogger({ name: component, level: cfg.logLevel, format: cfg.logFormat as LogFormat }).child({ member: cfg.name });
}

export function passports(texts: readonly string[]): Passport[] {
  return texts.map((t) => parsePassport(t));
}

/** The event server source: the static list, or SRV discovery on the domain. */
export function eventServerSource(cfg: MemberConfig): Endpoint[] | (() => Promise<Endpoint[]>) {
  if (cfg.eventServers.length > 0) return cfg.eventServers.map((s) => parseEndpoint(s));
  const domain = cfg.domain;
  if (!domain) throw new ConfigError("no event servers: give event_servers (a static list) or domain (for DNS SRV _eventserver._tcp.<domain>)");
  return () => discoverEventServers({ domain, dnsServers: cfg.dnsServers });
}

/** Connect to the event servers (validate the configuration with {@link eventServerSource} first). */
export async function connectEvents(cfg: MemberConfig, servers: ReturnType<typeof eventServerSource>, identity: TlsIdentity, logger: Logger, link: { pingIntervalMs?: number } = {}): Promise<EventClient> {
  const client = new EventClient({ identity, logger: logger.child({ part: "events" }), servers, serverPassports: passports(cfg.serverPassports), ...link });
  await client.start();
  return client;
}

/**
 * Run until SIGINT/SIGTERM, then call `stop` once; a second signal exits at
 * once. Installs the last-resort error handlers (see last-resort.ts).
 */
export function untilSignal(logger: Logger, stop: () => Promise<void>): Promise<void> {
  // From here on the command serves: an uncaught error is logged, not fatal.
  installLastResort(logger);
  return new Promise((resolve) => {
    // Timers of the engines are unref'd; this keeps a member alive while it
    // has no open socket (e.g. every event server down) until it is told to stop.
    const keepAlive = setInterval(() => undefined, 1 << 30);
    let stopping = false;
    const onSignal = (signal: NodeJS.Signals) => {
      if (stopping) {
        logger.warn({ signal }, "second signal, exiting now");
        process.exit(130);
      }
      stopping = true;
      logger.info({ signal }, "stopping");
      stop()
        .catch((err: unknown) => logger.error({ err: String(err) }, "error while stopping"))
        .finally(() => {
          clearInterval(keepAlive);
          process.off("SIGINT", onSignal);
          process.off("SIGTERM", onSignal);
          resolve();
        });
    };
    process.on("SIGINT", onSignal);
    process.on("SIGTERM", onSignal);
  });
}

/**
 * A control link for an operator tool (`thor location`, `thor drain`): it
 * listens nowhere useful (loopback, any port) and reaches members at the
 * control port their current entity announces.
 */
export function toolControlLink(identity: TlsIdentity, members: () => readonly Entity[] | undefined): ControlLink {
  return new ControlLink({
    identity,
    logger: silentLogger,
    host: "127.0.0.1",
    port: 0,
    resolve: (id) => {
      const m = members()?.find((e) => e.id === id);
      const port = m?.ports["control"];
      return m && port ? { host: m.ip, port } : undefined;
    },
  });
}
