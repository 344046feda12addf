import { isIP } from "node:net";
import type { Command } from "commander";
import { z } from "zod";
import { describeError, systemClock, type Logger } from "../../base/index.js";
import {
  Authority,
  DEFAULT_DNS_PORT,
  DEFAULT_NEGATIVE_TTL,
  DEFAULT_RATE_LIMIT,
  DEFAULT_RATE_LIMIT_SLIP,
  DEFAULT_SLICE,
  DEFAULT_TTL,
  DEFAULT_UDP_PAYLOAD,
  DnsConfigError,
  DnsServer,
  MembershipFollower,
  RateLimiter,
  Responder,
  UpdateClient,
  canonicalName,
  type ListenAddress,
  type NameServer,
  type ZoneConfig,
} from "../../dns/index.js";
import { parseEndpoint, type EventClient } from "../../events/index.js";
import { DEFAULT_STATISTICS_INTERVAL_MS } from "../../node/index.js";
import { ConfigError, list, num } from "../config.js";
import { connectEvents, eventServerSource, loadIdentity, loadMemberConfig, memberFlags, memberLogger, memberSchema, untilSignal } from "../member.js";
import { busMetrics, startOps } from "../ops.js";

const schema = memberSchema.extend({
  /** Our address: default listen address and glue of the default name server. */
  ip: z.string().min(2),
  port: num().int().min(0).max(65535).default(DEFAULT_DNS_PORT),
  /** Listen addresses `ip`, `ip:port` or `[v6]:port` (default: `ip:port`). */
  listen: list(z.string()).default([]),
  /** Zones served (default: `domain`). */
  zones: list(z.string()).default([]),
  /** Name servers `name` or `name=ip` (default: `ns1.<zone>=<ip>`); give every instance the same list. */
  nameservers: list(z.string()).default([]),
  /** Event servers published as `_eventserver._tcp` (default: the static `event_servers`). */
  publishEventServers: list(z.string()).default([]),
  /** Records per load-shared answer. */
  slice: num().int().min(1).max(1000).default(DEFAULT_SLICE),
  ttl: num().int().min(0).max(86_400).default(DEFAULT_TTL),
  negativeTtl: num().int().min(0).max(86_400).default(DEFAULT_NEGATIVE_TTL),
  udpPayload: num().int().min(512).max(65_535).default(DEFAULT_UDP_PAYLOAD),
  hostmaster: z.string().optional(),
  /** External primary `ip:port` to push the records to (RFC 2136); empty: none. */
  updatePrimary: z.string().optional(),
  /** TSIG key for the pushes, `name:base64-secret` (HMAC-SHA256). */
  updateKey: z.string().optional(),
  /** Zone pushed (default: the first zone). */
  updateZone: z.string().optional(),
  /** UDP responses per second per client /24 (/56), 0: no limit. On by default (response rate limiting against reflection). */
  rateLimit: num().int().min(0).max(1_000_000).default(DEFAULT_RATE_LIMIT),
  /** Over the limit, every n-th response is a TC answer (0: none). */
  rateLimitSlip: num().int().min(0).max(100).default(DEFAULT_RATE_LIMIT_SLIP),
  /** Query counters are published on `Thor.Statistics` this often (the dashboard shows them). */
  statisticsIntervalMs: num().int().min(100).default(DEFAULT_STATISTICS_INTERVAL_MS),
});

type DnsConfig = z.infer<typeof schema>;

function listenAddresses(cfg: DnsConfig): ListenAddress[] {
  const texts = cfg.listen.length > 0 ? cfg.listen : [cfg.ip];
  return texts.map((t) => {
    const e = parseEndpoint(t, cfg.port);
    if (isIP(e.host) === 0) throw new ConfigError(`listen: "${t}" is not an IP address`);
    return { host: e.host, port: e.port };
  });
}

function nameservers(cfg: DnsConfig, zone: string): NameServer[] {
  if (cfg.nameservers.length === 0) return [{ name: `ns1.${zone}`, ip: cfg.ip }];
  return cfg.nameservers.map((t) => {
    const [name, ip] = t.split("=").map((s) => s.trim());
    return ip ? { name: name!, ip } : { name: name! };
  });
}

export function zoneConfigs(cfg: DnsConfig): ZoneConfig[] {
  const zones = cfg.zones.length > 0 ? cfg.zones : cfg.domain ? [cfg.domain] : [];
  if (zones.length === 0) throw new ConfigError("no zone to serve: give zones or domain");
  const published = cfg.publishEventServers.length > 0 ? cfg.publishEventServers : cfg.eventServers;
  const eventServers = published.map((s) => parseEndpoint(s));
  return zones.map((origin) => ({
    origin,
    nameservers: nameservers(cfg, origin),
    eventServers,
    ttl: cfg.ttl,
    negativeTtl: cfg.negativeTtl,
    ...(cfg.hostmaster ? { hostmaster: cfg.hostmaster } : {}),
  }));
}

function updateClient(cfg: DnsConfig, log: Logger): UpdateClient | undefined {
  if (!cfg.updatePrimary) return undefined;
  const key = /^([^:]+):(.+)$/.exec(cfg.updateKey ?? "");
  if (!key) throw new ConfigError("update_primary needs update_key as name:base64-secret (TSIG, HMAC-SHA256)");
  const secret = Buffer.from(key[2]!, "base64");
  if (secret.length < 16) throw new ConfigError("update_key: the secret must be base64 of at least 16 bytes");
  const primary = parseEndpoint(cfg.updatePrimary, 53);
  return new UpdateClient({ primary, key: { name: key[1]!, secret }, logger: log.child({ part: "update" }) });
}

/** Publish the server's counters on `Thor.Statistics` (role `dns`) every `intervalMs`; returns the stop function. */
function publishStatistics(bus: EventClient, server: DnsServer, who: { id: string; ip: string }, intervalMs: number): () => void {
  const timer = setInterval(() => {
    const s = server.stats;
    bus.publish("Thor.Statistics", { ...who, at: Date.now(), roles: { dns: { queries: s.udpQueries + s.tcpQueries, udpQueries: s.udpQueries, tcpQueries: s.tcpQueries, malformed: s.malformed, truncated: s.truncated, rateLimited: s.rateLimited } } });
  }, intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}

export function register(program: Command): void {
  memberFlags(program.command("dns").description("authoritative DNS for the platform's domains, following the live membership (RFC 3263 NAPTR/SRV/A)"))
    .option("--ip <addr>", "our address (default listen address, glue of ns1.<zone>)")
    .option("--port <port>", `UDP and TCP port (default ${DEFAULT_DNS_PORT})`)
    .option("--listen <list>", "listen addresses ip[:port],[v6]:port,... (default <ip>:<port>)")
    .option("--zones <list>", "zones served (default the domain)")
    .option("--nameservers <list>", "NS records name[=ip],... (default ns1.<zone>=<ip>)")
    .option("--publish-event-servers <list>", "event servers for _eventserver._tcp SRV (default --event-servers)")
    .option("--slice <n>", `records per load-shared answer (default ${DEFAULT_SLICE})`)
    .option("--ttl <s>", `TTL of the membership records (default ${DEFAULT_TTL})`)
    .option("--negative-ttl <s>", `NXDOMAIN/NODATA TTL, SOA minimum (default ${DEFAULT_NEGATIVE_TTL})`)
    .option("--udp-payload <bytes>", `EDNS0 UDP payload size (default ${DEFAULT_UDP_PAYLOAD})`)
    .option("--hostmaster <name>", "SOA RNAME (default hostmaster.<zone>)")
    .option("--update-primary <ip:port>", "also push the records to this primary (RFC 2136 dynamic updates)")
    .option("--update-key <name:secret>", "TSIG key for the pushes (HMAC-SHA256, base64 secret)")
    .option("--update-zone <zone>", "zone pushed (default the first zone)")
    .option("--rate-limit <n>", `UDP responses/s per client /24 or /56 (default ${DEFAULT_RATE_LIMIT}; 0: off)`)
    .option("--rate-limit-slip <n>", `over the limit, every n-th response is sent with TC (default ${DEFAULT_RATE_LIMIT_SLIP})`)
    .option("--statistics-interval-ms <ms>", `Thor.Statistics publication interval (default ${DEFAULT_STATISTICS_INTERVAL_MS})`)
    .action(async (flags: Record<string, unknown>) => {
      const cfg = loadMemberConfig(schema, "dns", flags);
      const log = memberLogger(cfg, "dns");
      let authority: Authority;
      try {
        authority = new Authority(zoneConfigs(cfg), Math.floor(systemClock.wallNow() / 1000));
      } catch (err) {
        if (err instanceof DnsConfigError) throw new ConfigError(err.message, { cause: err });
        throw err;
      }
      const listen = listenAddresses(cfg);
      const updater = updateClient(cfg, log);
      const pushedZone = canonicalName(cfg.updateZone ?? authority.zones()[0]!.origin);
      if (updater && !authority.zones().some((z) => z.origin === pushedZone)) throw new ConfigError(`update_zone ${pushedZone} is not a zone served`);
      const push = (a: Authority) => {
        const zone = a.zones().find((z) => z.origin === pushedZone);
        if (updater && zone) updater.push(zone).catch((err: unknown) => log.warn({ err: describeError(err) }, "push to the primary failed, will retry"));
      };
      const servers = eventServerSource(cfg);
      const identity = await loadIdentity(cfg);
      const server = new DnsServer({ responder: new Responder(authority, { slice: cfg.slice, udpPayload: cfg.udpPayload }), logger: log.child({ part: "server" }), listen, ...(cfg.rateLimit > 0 ? { rateLimiter: new RateLimiter({ rate: cfg.rateLimit, slip: cfg.rateLimitSlip }) } : {}) });
      // Listen first: `_eventserver._tcp` answers from configuration, even before the network is reached.
      const bound = await server.start();
      log.info({ listen: bound.map((a) => `${a.host}:${a.port}`), zones: authority.zones().map((z) => z.origin), slice: cfg.slice }, "dns listening (udp, tcp)");
      const bus = await connectEvents(cfg, servers, identity, log);
      const follower = new MembershipFollower({ bus, authority, logger: log, onChange: push });
      follower.start();
      const stopStatistics = publishStatistics(bus, server, { id: cfg.name, ip: cfg.ip }, cfg.statisticsIntervalMs);
      const ops = await startOps(cfg, log, "dns", (metrics, health) => {
        busMetrics(metrics, health, bus);
        metrics.gauge("thor_membership_members", "Members in the applied snapshot", [], () => follower.current?.members.length ?? 0);
        health.check("membership", () => (follower.current ? { ok: true, detail: `epoch ${follower.current.epoch}, ${follower.current.members.length} members` } : { ok: false, detail: "no membership snapshot yet" }));
      });
      await untilSignal(log, async () => {
        await ops?.stop();
        stopStatistics();
        follower.stop();
        updater?.close();
        await server.stop();
        await bus.close();
        identity.close();
      });
    });
}
