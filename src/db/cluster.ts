/**
 * The databases a member may use, best first (the lowest `(priority, id)`
 * of the announcements is the primary). Writes go to the primary only, in
 * one transaction; when it cannot be reached they are refused with
 * {@link DbPrimaryDownError}, never half-done. Reads try the primary and fall
 * back to the secondaries in order. A primary that failed is skipped for
 * `retryMs`, then tried again.
 */
import { describeError, redactUri, systemClock, type Clock, type Logger } from "../base/index.js";
import { isConnectionError, openDatabase, type Database, type Dialect, type OpenOptions } from "./connect.js";
import { failoverChannel } from "./diagnostics.js";
import { DbNotConfiguredError, DbPrimaryDownError, DbUnavailableError } from "./errors.js";
import { migrateToLatest } from "./migrations.js";
import { DEFAULT_PRIMARY_RETRY_MS } from "./options.js";
import type { Executor } from "./store.js";

export interface DatabaseCandidate {
  uri: string;
  /** Lower is preferred. */
  priority: number;
  /** Announcer id, to break ties. */
  id?: string;
}

export interface DatabaseClusterOptions {
  logger: Logger;
  clock?: Clock;
  /** @default 2000 */
  retryMs?: number;
  open?: (uri: string, opts: OpenOptions) => Database;
  openOptions?: OpenOptions;
  /** Run migrations on a database before its first write (the provisioning server does; caches don't). */
  migrate?: boolean;
}

export interface DatabaseClusterState {
  primary: string | undefined;
  primaryUp: boolean;
  secondaries: string[];
  /** Where the last read was served from. */
  lastRead: "primary" | "secondary" | undefined;
}

interface Member {
  cand: DatabaseCandidate;
  db: Database;
  downUntil: number;
  migrated: boolean;
}

export class DatabaseCluster {
  private members: Member[] = [];
  private readonly clock: Clock;
  private readonly log: Logger;
  private lastRead: "primary" | "secondary" | undefined;
  private closed = false;

  constructor(private readonly opts: DatabaseClusterOptions) {
    this.clock = opts.clock ?? systemClock;
    this.log = opts.logger;
  }

  /** Replace the candidate list (databases no longer named are closed). */
  setCandidates(list: readonly DatabaseCandidate[]): void {
    const sorted = [...list].sort((a, b) => a.priority - b.priority || (a.id ?? a.uri).localeCompare(b.id ?? b.uri));
    const keep = new Map(this.members.map((m) => [m.cand.uri, m]));
    const next: Member[] = [];
    for (const cand of sorted) {
      if (next.some((m) => m.cand.uri === cand.uri)) continue;
      const old = keep.get(cand.uri);
      if (old) {
        keep.delete(cand.uri);
        next.push({ ...old, cand });
      } else {
        next.push({ cand, db: (this.opts.open ?? openDatabase)(cand.uri, this.opts.openOptions ?? {}), downUntil: 0, migrated: false });
      }
    }
    for (const gone of keep.values()) void gone.db.close().catch(() => undefined);
    const before = this.members[0]?.cand.uri;
    this.members = next;
    if (next[0] && next[0].cand.uri !== before) this.log.info({ primary: redactUri(next[0].cand.uri), secondaries: next.slice(1).map((m) => redactUri(m.cand.uri)) }, "database primary chosen");
  }

  get configured(): boolean {
    return this.members.length > 0;
  }

  /** The dialect of the primary. */
  get dialect(): Dialect | undefined {
    return this.members[0]?.db.dialect;
  }

  state(): DatabaseClusterState {
    const p = this.members[0];
    return {
      primary: p ? redactUri(p.cand.uri) : undefined,
      primaryUp: p ? p.downUntil <= this.clock.now() : false,
      secondaries: this.members.slice(1).map((m) => redactUri(m.cand.uri)),
      lastRead: this.lastRead,
    };
  }

  /** Run `fn` in one transaction on the primary: all of it is committed, or none. */
  async write<T>(fn: (trx: Executor) => Promise<T>): Promise<T> {
    const p = this.primary();
    if (p.downUntil > this.clock.now()) throw new DbPrimaryDownError(`the primary database ${redactUri(p.cand.uri)} is unreachable: writes are refused until it returns (reads are served by a secondary)`);
    try {
      await this.ensureMigrated(p);
      return await p.db.db.transaction().execute(fn);
    } catch (err) {
      if (isConnectionError(err)) {
        this.markDown(p, err);
        throw new DbPrimaryDownError(`the primary database ${redactUri(p.cand.uri)} is unreachable (${describeError(err)}): the change was not made`, { cause: err });
      }
      throw err;
    }
  }

  /** Run a read on the primary, or on the first secondary that answers when the primary is down. */
  async read<T>(fn: (db: Executor) => Promise<T>): Promise<T> {
    const list = this.members;
    if (list.length === 0) throw new DbNotConfiguredError("no database announced yet");
    let lastErr: unknown;
    for (let i = 0; i < list.length; i++) {
      const m = list[i]!;
      const isLast = i === list.length - 1;
      if (m.downUntil > this.clock.now() && !isLast) continue;
      try {
        const v = await fn(m.db.db);
        if (m.downUntil > 0) this.markUp(m);
        const where = i === 0 ? "primary" : "secondary";
        if (where !== this.lastRead && where === "secondary") failoverChannel.publish({ event: "read-from-secondary", uri: redactUri(m.cand.uri) });
        this.lastRead = where;
        return v;
      } catch (err) {
        if (!isConnectionError(err)) throw err;
        this.markDown(m, err);
        lastErr = err;
      }
    }
    throw new DbUnavailableError(`no database reachable (${list.map((m) => redactUri(m.cand.uri)).join(", ")}): ${describeError(lastErr)}`, { cause: lastErr });
  }

  /** Migrate the primary now (the provisioning server does this at start). */
  async migrate(): Promise<string[]> {
    const p = this.primary();
    const applied = await migrateToLatest(p.db.db as unknown as Parameters<typeof migrateToLatest>[0], p.db.dialect);
    p.migrated = true;
    if (applied.length) this.log.info({ applied, database: redactUri(p.cand.uri) }, "database migrated");
    return applied;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.all(this.members.map((m) => m.db.close().catch(() => undefined)));
    this.members = [];
  }

  private primary(): Member {
    const p = this.members[0];
    if (!p) throw new DbNotConfiguredError("no database announced yet: writes are refused");
    return p;
  }

  private async ensureMigrated(m: Member): Promise<void> {
    if (!this.opts.migrate || m.migrated) return;
    await this.migrate();
  }

  private markDown(m: Member, err: unknown): void {
    const wasUp = m.downUntil <= this.clock.now();
    m.downUntil = this.clock.now() + (this.opts.retryMs ?? DEFAULT_PRIMARY_RETRY_MS);
    if (wasUp) {
      const primary = m === this.members[0];
      this.log.warn({ database: redactUri(m.cand.uri), primary, err: describeError(err) }, "database unreachable");
      if (primary) failoverChannel.publish({ event: "primary-down", uri: redactUri(m.cand.uri), cause: describeError(err) });
    }
  }

  private markUp(m: Member): void {
    m.downUntil = 0;
    this.log.info({ database: redactUri(m.cand.uri) }, "database reachable again");
    if (m === this.members[0]) failoverChannel.publish({ event: "primary-up", uri: redactUri(m.cand.uri) });
  }
}
