import type { Command } from "commander";
import { z } from "zod";
import { redactUri, systemClock } from "../../base/index.js";
import { DatabaseAnnouncer } from "../../node/database.js";
import { ConfigError, num } from "../config.js";
import { openDatabase, pingDatabase, type Database } from "../../db/index.js";
import { busMetrics, startOps } from "../ops.js";
import { connectEvents, eventServerSource, loadIdentity, loadMemberConfig, memberFlags, memberLogger, memberSchema, untilSignal } from "../member.js";

const schema = memberSchema.extend({
  ip: z.string().min(2),
  dburi: z.string().min(1),
  priority: num().int().min(0).max(65535).default(10),
});

export function register(program: Command): void {
  memberFlags(program.command("database").description("announce the provisioning database location (dburi, priority)"))
    .option("--ip <addr>", "our address")
    .option("--dburi <uri>", "database URI, e.g. sqlite:///var/lib/thor/thor.db or postgres://host/db")
    .option("--priority <n>", "lower is preferred (default 10)")
    .action(async (flags: Record<string, unknown>) => {
      const cfg = loadMemberConfig(schema, "database", flags);
      // The announcement reaches every member with a certificate of the CA (monitors, DNS servers, ...): no password on the bus.
      // Nodes take the PostgreSQL password from their own environment (PGPASSWORD) or ~/.pgpass, as libpq does.
      if (redactUri(cfg.dburi) !== cfg.dburi) throw new ConfigError("dburi carries a password, which would be broadcast to every member: announce postgres://user@host/db and give the password to the nodes (PGPASSWORD or ~/.pgpass)");
      const log = memberLogger(cfg, "database");
      const servers = eventServerSource(cfg);
      const identity = await loadIdentity(cfg);
      const bus = await connectEvents(cfg, servers, identity, log);
      const announcer = new DatabaseAnnouncer(bus, systemClock, { id: cfg.name, ip: cfg.ip, dburi: cfg.dburi, priority: cfg.priority });
      announcer.start();
      log.info({ dburi: redactUri(cfg.dburi), priority: cfg.priority }, "announcing database");
      let probe: Database | undefined;
      const ops = await startOps(cfg, log, "database", (metrics, health) => {
        busMetrics(metrics, health, bus);
        probe = openDatabase(cfg.dburi, { connectTimeoutMs: 2000, poolSize: 1 });
        const db = probe;
        let last: { ok: boolean; ms: number; at: number; detail: string } | undefined;
        const check = async () => {
          if (last && Date.now() - last.at < 2000) return last;
          try {
            const ms = await pingDatabase(db, 2000);
            last = { ok: true, ms, at: Date.now(), detail: `${db.dialect} answers` };
          } catch (err) {
            last = { ok: false, ms: 0, at: Date.now(), detail: `${db.dialect} does not answer: ${err instanceof Error ? err.message.slice(0, 120) : "error"}` };
          }
          return last;
        };
        health.check("database", async () => {
          const r = await check();
          return { ok: r.ok, detail: r.detail };
        });
        metrics.gauge("thor_database_up", "1 when the announced database answers a query", [], () => (last?.ok ? 1 : 0));
        metrics.gauge("thor_database_priority", "Announced priority (lower is the primary)", [], () => cfg.priority);
      });
      await untilSignal(log, async () => {
        await ops?.stop();
        await probe?.close();
        announcer.stop();
        await bus.close();
        identity.close();
      });
    });
}
