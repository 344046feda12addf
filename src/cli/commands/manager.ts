import type { Command } from "commander";
import { z } from "zod";
import { Manager, hearingWindowMs, hearsQuorum, DEFAULT_HEARTBEAT_MS, DEFAULT_MANAGER_DEAD_MS, DEFAULT_MEMBER_TIMEOUT_MS, DEFAULT_SNAPSHOT_INTERVAL_MS } from "../../manager/index.js";
import { num } from "../config.js";
import { busMetrics, startOps } from "../ops.js";
import { connectEvents, eventServerSource, loadIdentity, loadMemberConfig, memberFlags, memberLogger, memberSchema, untilSignal } from "../member.js";

const schema = memberSchema.extend({
  ip: z.string().min(2),
  /** Lower is preferred in the election. */
  priority: num().int().min(0).max(65535).default(100),
  heartbeatMs: num().int().min(50).default(DEFAULT_HEARTBEAT_MS),
  deadMs: num().int().min(150).default(DEFAULT_MANAGER_DEAD_MS),
  memberTimeoutMs: num().int().min(500).default(DEFAULT_MEMBER_TIMEOUT_MS),
  snapshotIntervalMs: num().int().min(100).default(DEFAULT_SNAPSHOT_INTERVAL_MS),
});

export function register(program: Command): void {
  memberFlags(program.command("manager").description("run a manager (membership, snapshots; one is elected active)"))
    .option("--ip <addr>", "our address")
    .option("--priority <n>", "election priority, lower wins (default 100)")
    .option("--heartbeat-ms <ms>", "heartbeat interval (default 1000)")
    .option("--dead-ms <ms>", "a manager silent this long is dead (default 3000)")
    .option("--member-timeout-ms <ms>", "a member silent this long is removed (default 6000)")
    .option("--snapshot-interval-ms <ms>", "interval of the membership beacon: version and digest (default 5000)")
    .action(async (flags: Record<string, unknown>) => {
      const cfg = loadMemberConfig(schema, "manager", flags);
      const log = memberLogger(cfg, "manager");
      const servers = eventServerSource(cfg);
      const identity = await loadIdentity(cfg);
      // Pinged every heartbeat: a link whose packets are dropped stops counting towards the quorum within the hearing window.
      const bus = await connectEvents(cfg, servers, identity, log, { pingIntervalMs: cfg.heartbeatMs });
      const window = hearingWindowMs(cfg.heartbeatMs, cfg.memberTimeoutMs);
      const manager = new Manager({
        bus,
        logger: log,
        id: cfg.name,
        ip: cfg.ip,
        priority: cfg.priority,
        heartbeatMs: cfg.heartbeatMs,
        deadMs: cfg.deadMs,
        memberTimeoutMs: cfg.memberTimeoutMs,
        snapshotIntervalMs: cfg.snapshotIntervalMs,
        hearing: (graceMs) => hearsQuorum(bus, window + graceMs),
      });
      manager.start();
      const ops = await startOps(cfg, log, "manager", (metrics, health) => {
        busMetrics(metrics, health, bus);
        metrics.gauge("thor_manager_active", "1 while this manager is the active one", [], () => (manager.isActive ? 1 : 0));
        metrics.gauge("thor_manager_term", "Manager term of the last snapshot this manager published or saw", [], () => manager.snapshot?.epoch ?? 0);
        metrics.gauge("thor_manager_members", "Members per role in this manager's snapshot", ["role"], () => {
          const per = new Map<string, number>();
          for (const m of manager.snapshot?.members ?? []) for (const r of m.roles) per.set(r, (per.get(r) ?? 0) + 1);
          return [...per].map(([role, n]) => [{ role }, n] as const);
        });
        health.check("election", () => (manager.role === "listening" ? { ok: false, detail: "listening for other managers" } : { ok: true, detail: manager.role }));
      });
      await untilSignal(log, async () => {
        await ops?.stop();
        manager.stop();
        await bus.close();
        identity.close();
      });
    });
}
