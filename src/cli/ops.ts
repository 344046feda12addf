/**
 * The operations port of every long-running member (`--metrics-listen
 * host:port`): builds the member's metrics (from the diagnostics channels,
 * plus what the command reads from its live state) and readiness checks,
 * and serves `/metrics`, `/health` and `/ready`. Without the setting nothing
 * listens and no channel is subscribed (metrics cost nothing).
 */
import type { Logger } from "../base/index.js";
import type { EventClient } from "../events/index.js";
import type { Health, ThorMetrics } from "../monitor/index.js";
import { ConfigError } from "./config.js";
import type { MemberConfig } from "./member.js";
import { VERSION } from "./version.js";

export interface Ops {
  readonly metrics: ThorMetrics;
  readonly health: Health;
  stop(): Promise<void>;
}

/** Parse `host:port` (`[v6]:port`). */
export function parseListen(text: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d{1,5})$/.exec(text.trim());
  const port = m ? Number(m[3]) : NaN;
  if (!m || port > 65535) throw new ConfigError(`metrics_listen must be host:port, got "${text}"`);
  return { host: m[1] ?? m[2]!, port };
}

/**
 * Start the operations port if `metrics_listen` is set; `fill` adds the
 * component's own metrics and readiness checks before it listens.
 */
export async function startOps(cfg: Pick<MemberConfig, "metricsListen" | "name">, log: Logger, component: string, fill: (metrics: ThorMetrics, health: Health) => void): Promise<Ops | undefined> {
  if (!cfg.metricsListen) return undefined;
  const { host, port } = parseListen(cfg.metricsListen);
  // Loaded only here: a member without an operations port does not load fastify and prom-client.
  const { Health, OpsServer, ThorMetrics } = await import("../monitor/index.js");
  const metrics = new ThorMetrics({ component, version: VERSION });
  const health = new Health({ component, member: cfg.name, version: VERSION });
  fill(metrics, health);
  const server = new OpsServer({ host, port, logger: log.child({ part: "ops" }), metrics, health });
  await server.start();
  return {
    metrics,
    health,
    async stop() {
      await server.stop();
      metrics.close();
    },
  };
}

/** Metrics and readiness every bus member shares: its links to the event servers and its event counters. */
export function busMetrics(metrics: ThorMetrics, health: Health, bus: EventClient): void {
  metrics.gauge("thor_events_links_up", "Event server links of this member that are up", [], () => bus.upCount);
  metrics.counter("thor_events_client_messages_total", "Events of this member by kind (published, unsent, received, duplicates dropped, invalid)", ["kind"], () =>
    Object.entries(bus.counters).map(([kind, v]) => [{ kind }, v] as const),
  );
  health.check("event_servers", () => (bus.upCount > 0 ? { ok: true, detail: `${bus.upCount} of ${bus.status().length} links up` } : { ok: false, detail: "no event server link up" }));
}
