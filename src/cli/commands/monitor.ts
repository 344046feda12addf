import type { Command } from "commander";
import { z } from "zod";
import { systemClock, sleep } from "../../base/index.js";
import { NetworkView, renderNetwork } from "../../monitor/index.js";
import { DEFAULT_DATABASE_INTERVAL_MS } from "../../node/index.js";
import { bool, num } from "../config.js";
import { connectEvents, eventServerSource, loadIdentity, loadMemberConfig, memberFlags, memberSchema, untilSignal } from "../member.js";
import { createLogger } from "../logging.js";

const schema = memberSchema.extend({
  once: bool().default(false),
  json: bool().default(false),
  /** With --once: how long to wait for the first snapshot. */
  timeoutMs: num().int().min(100).default(10_000),
  refreshMs: num().int().min(100).default(1000),
});

export function register(program: Command): void {
  memberFlags(program.command("monitor").description("live terminal view of the network: members, roles, ring shares, managers, events"))
    .option("--once", "print the current state once and exit")
    .option("--json", "with --once: print JSON")
    .option("--timeout-ms <ms>", "with --once: wait this long for a snapshot (default 10000)")
    .action(async (flags: Record<string, unknown>) => {
      const cfg = loadMemberConfig(schema, "monitor", flags);
      // The screen is the output: logs go to stderr-free JSON only at warn and above.
      const log = createLogger({ name: "monitor", level: cfg.once ? "error" : "warn", format: "json" });
      const servers = eventServerSource(cfg);
      const identity = await loadIdentity(cfg);
      const bus = await connectEvents(cfg, servers, identity, log);
      const view = new NetworkView(systemClock);
      view.attach(bus);
      if (cfg.once) {
        const started = Date.now();
        const deadline = started + cfg.timeoutMs;
        // Wait for the snapshot and the active manager's heartbeat (a standby's may come first).
        while ((!view.snapshot || view.activeManager() === undefined) && Date.now() < deadline) await sleep(50);
        // Databases announce themselves every few seconds, not on connect: wait one interval for them too.
        const databasesBy = Math.min(deadline, started + DEFAULT_DATABASE_INTERVAL_MS + 500);
        while (view.databases.size === 0 && Date.now() < databasesBy) await sleep(50);
        if (cfg.json) {
          const out = {
            snapshot: view.snapshot ?? null,
            activeManager: view.activeManager() ?? null,
            managers: [...view.managers.values()].map(({ hb }) => hb),
            databases: [...view.databases.values()].map(({ ann }) => ann),
            shares: Object.fromEntries((view.snapshot?.members ?? []).map((m) => [m.id, view.shares(m)])),
            links: bus.status(),
          };
          process.stdout.write(JSON.stringify(out, null, 2) + "\n");
        } else {
          process.stdout.write(renderNetwork(view, { width: process.stdout.columns ?? 120 }) + "\n");
        }
        await bus.close();
        identity.close();
        if (!view.snapshot) process.exitCode = 1;
        return;
      }
      const draw = () => {
        const text = renderNetwork(view, { width: process.stdout.columns ?? 120, events: Math.max(5, (process.stdout.rows ?? 40) - 12 - (view.snapshot?.members.length ?? 0)) });
        process.stdout.write(process.stdout.isTTY ? `\x1b[H\x1b[2J${text}\n` : `${text}\n\n`);
      };
      const timer = setInterval(draw, cfg.refreshMs);
      draw();
      await untilSignal(log, async () => {
        clearInterval(timer);
        await bus.close();
        identity.close();
      });
    });
}
