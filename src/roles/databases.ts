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

export interface FollowedDatabases {
  cluster: DatabaseCluster;
  /** Settles once the first migration of a primary known at start has been tried (at once when none is known yet). */
  ready: Promise<void>;
  stop: () => void;
}

export function followDatabases(ctx: RoleContext, log: Logger, opts: FollowDatabasesOptions = {}): FollowedDatabases {
  const cluster = new DatabaseCluster({ logger: log, clock: ctx.clock, migrate: opts.migrate ?? false });
  const migrate = (): Promise<void> => {
    if (!opts.migrate || !cluster.configured) return Promise.resolve();
    return cluster.migrate().then(
      () => undefined,
      (err: unknown) => log.warn({ err: describeError(err) }, "could not migrate the primary database yet (the first write retries)"),
    );
  };
  if (opts.fixed?.length) {
    cluster.setCandidates(opts.fixed.map((uri, i) => ({ uri, priority: i })));
    return { cluster, ready: migrate(), stop: () => undefined };
  }
  let key = "";
  const apply = (list: DatabaseAnnouncement[]): Promise<void> => {
    const cands: DatabaseCandidate[] = list.map((a) => ({ uri: a.dburi, priority: a.priority, id: a.id }));
    const next = cands.map((c) => `${c.priority}:${c.uri}`).join("|");
    if (next === key || cands.length === 0) return Promise.resolve();
    key = next;
    cluster.setCandidates(cands);
    return migrate();
  };
  const off = ctx.databases.onChange((list) => void apply(list));
  return { cluster, ready: apply(ctx.databases.all()), stop: off };
}
