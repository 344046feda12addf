import type { Command } from "commander";
import { z } from "zod";
import { redactUri, systemClock } from "../../base/index.js";
import { DatabaseAnnouncer } from "../../node/index.js";
import { ConfigError, num } from "../config.js";
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
      await untilSignal(log, async () => {
        announcer.stop();
        await bus.close();
        identity.close();
      });
    });
}
