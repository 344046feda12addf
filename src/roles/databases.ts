/**
 * The databases a role uses: the ones the node's directory holds from
 * `thor database` announcements (the best priority is the primary, the
 * others serve reads while it is down), or a fixed list. With `migrate`, the
 * primary's schema is brought up to date whenever the primary changes.
 */
import { describeError, type Logger } from "../base/index.js";
import { DatabaseCluster, type DatabaseCandidate } from "../db/index.js";
import type { DatabaseAnnouncement } from "../events/index.js";
import type { RoleContext } from "../node/index.js";

export interface FollowDatabasesOptions {
  /** Run the migrations on the primary. */
  migrate?: boolean;
  /** Use these databases (best first) and ignore announcements. */
  fixed?: string[];
}

export function followDatabases(ctx: RoleContext, log: Logger, opts: FollowDatabasesOptions = {}): { cluster: DatabaseCluster; stop: () => void } {
  const cluster = new DatabaseCluster({ logger: log, clock: ctx.clock, migrate: opts.migrate ?? false });
  const migrate = () => {
    if (!opts.migrate || !cluster.configured) return;
    cluster.migrate().catch((err: unknown) => log.warn({ err: describeError(err) }, "could not migrate the primary database yet (the first write retries)"));
  };
  if (opts.fixed?.length) {
    cluster.setCandidates(opts.fixed.map((uri, i) => ({ uri, priority: i })));
    migrate();
    return { cluster, stop: () => undefined };
  }
  let key = "";
  const apply = (list: DatabaseAnnouncement[]) => {
    const cands: DatabaseCandidate[] = list.map((a) => ({ uri: a.dburi, priority: a.priority, id: a.id }));
    const next = cands.map((c) => `${c.priority}:${c.uri}`).join("|");
    if (next === key || cands.length === 0) return;
    key = next;
    cluster.setCandidates(cands);
    migrate();
  };
  const off = ctx.databases.onChange(apply);
  apply(ctx.databases.all());
  return { cluster, stop: off };
}
