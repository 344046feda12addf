import type { Command } from "commander";
import { z } from "zod";
import { AdvertisedRole, NodeRuntime, DEFAULT_PRESENCE_INTERVAL_MS } from "../../node/index.js";
import { LookupServer, ROLE_NAME } from "../../overlay/index.js";
import { list, num } from "../config.js";
import { connectEvents, eventServerSource, loadIdentity, loadMemberConfig, memberFlags, memberLogger, memberSchema, untilSignal } from "../member.js";
import { VERSION } from "../version.js";

const schema = memberSchema.extend({
  ip: z.string().min(2),
  roles: list(z.string().regex(ROLE_NAME, "role names are lowercase letters, digits and _")).default([]),
  /** Public lookup interface port (0 = disabled). */
  lookupPort: num().int().min(0).max(65535).default(9500),
  presenceIntervalMs: num().int().min(100).default(DEFAULT_PRESENCE_INTERVAL_MS),
});

export function register(program: Command): void {
  memberFlags(program.command("node").description("run a node: join the overlay and serve roles"))
    .option("--ip <addr>", "our address (also the lookup listen address)")
    .option("--roles <list>", "comma-separated roles, e.g. sip_proxy,media_relay")
    .option("--lookup-port <port>", "public lookup interface port (default 9500, 0 = off)")
    .option("--presence-interval-ms <ms>", "presence announcement interval (default 2000)")
    .action(async (flags: Record<string, unknown>) => {
      const cfg = loadMemberConfig(schema, "node", flags);
      const log = memberLogger(cfg, "node");
      const servers = eventServerSource(cfg);
      const identity = await loadIdentity(cfg);
      const bus = await connectEvents(cfg, servers, identity, log);
      const runtime = new NodeRuntime({
        bus,
        logger: log,
        id: cfg.name,
        ip: cfg.ip,
        version: VERSION,
        roles: cfg.roles.map((r) => new AdvertisedRole(r)),
        ports: cfg.lookupPort > 0 ? { lookup: cfg.lookupPort } : {},
        presenceIntervalMs: cfg.presenceIntervalMs,
      });
      const lookup = cfg.lookupPort > 0 ? new LookupServer({ host: cfg.ip, port: cfg.lookupPort, logger: log.child({ part: "lookup" }), resolve: () => runtime.roleMap() }) : undefined;
      if (lookup) {
        const addr = await lookup.start();
        log.info({ port: addr.port }, "lookup interface listening");
      }
      await runtime.start();
      await untilSignal(log, async () => {
        await runtime.stop();
        await lookup?.stop();
        await bus.close();
        identity.close();
      });
    });
}
