import type { Command } from "commander";
import { z } from "zod";
import { EventServer, DEFAULT_EVENT_PORT, DEFAULT_MAX_QUEUE_BYTES, DEFAULT_PUBLISH_POLICY } from "../../events/index.js";
import { parsePassport, type Passport } from "../../pki/index.js";
import { list, num } from "../config.js";
import { startOps } from "../ops.js";
import { loadIdentity, loadMemberConfig, memberFlags, memberLogger, memberSchema, passports, untilSignal } from "../member.js";

const schema = memberSchema.extend({
  host: z.string().default("0.0.0.0"),
  port: num().int().min(0).max(65535).default(DEFAULT_EVENT_PORT),
  /** Passports allowed to connect (empty: any certificate of the CA). */
  accept: list(z.string(), ";").default([]),
  /** Extra publish rules `Topic=passport` (e.g. `Thor.Members=OU=manager`), replacing the default for that topic. */
  publishPolicy: list(z.string(), ";").default([]),
  maxQueueBytes: num().int().min(65536).default(DEFAULT_MAX_QUEUE_BYTES),
});

function policy(rules: readonly string[]): Record<string, Passport[]> {
  const out: Record<string, Passport[]> = { ...DEFAULT_PUBLISH_POLICY };
  const replaced = new Set<string>();
  for (const rule of rules) {
    const eq = rule.indexOf("=");
    const topic = rule.slice(0, eq).trim();
    if (eq < 1 || !topic.startsWith("Thor.")) throw new Error(`invalid publish rule "${rule}" (expected Thor.Topic=ATTR=pattern,...)`);
    if (!replaced.has(topic)) out[topic] = [];
    replaced.add(topic);
    out[topic]!.push(parsePassport(rule.slice(eq + 1)));
  }
  return out;
}

export function register(program: Command): void {
  memberFlags(program.command("eventserver").description("run an event server (publish/subscribe over mutual TLS)"))
    .option("--host <addr>", "listen address (default 0.0.0.0)")
    .option("--port <port>", "listen port (default 8000)")
    .option("--accept <list>", "passports allowed to connect, ';'-separated")
    .option("--publish-policy <list>", "publish rules Topic=passport, ';'-separated")
    .action(async (flags: Record<string, unknown>) => {
      const cfg = loadMemberConfig(schema, "eventserver", flags);
      const log = memberLogger(cfg, "eventserver");
      const identity = await loadIdentity(cfg);
      const server = new EventServer({
        identity,
        logger: log,
        host: cfg.host,
        port: cfg.port,
        accept: passports(cfg.accept),
        publishPolicy: policy(cfg.publishPolicy),
        maxQueueBytes: cfg.maxQueueBytes,
      });
      await server.start();
      const ops = await startOps(cfg, log, "eventserver", (metrics) => {
        metrics.gauge("thor_events_connected_members", "Members connected to this event server", [], () => server.connectionCount);
        metrics.counter("thor_events_dropped_subscribers_total", "Subscribers disconnected for being too slow (their events dropped)", [], () => server.stats.slowDisconnects);
        metrics.counter("thor_events_protocol_errors_total", "Connections closed for a protocol error", [], () => server.stats.protocolErrors);
      });
      await untilSignal(log, async () => {
        await ops?.stop();
        await server.stop();
        identity.close();
      });
    });
}
