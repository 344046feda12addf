/**
 * Provisioned subscribers for a `sip_proxy` node: opens the databases that
 * `thor database` announces (reads fall back to a secondary), loads the
 * accounts this node holds (as the responsible node or a replica) on the role's ring when a database is announced
 * and whenever its ring slice changes, and refreshes accounts at once when a
 * provisioning server announces a committed change on `Thor.Provisioning`,
 * and reads the database's change log every few seconds for the changes
 * it was not told of (event bus down, a dropped notice).
 * Its `lookup` is the SIP stack's credential store.
 */
import { describeError, type Clock, type Logger, type TimerHandle } from "../base/index.js";
import { DatabaseCluster, getXcapDocument, listXcapDocuments, latestChange, readChanges, type DatabaseCandidate, type XcapDocumentKey } from "../db/index.js";
import type { RoleContext } from "../node/index.js";
import type { DatabaseAnnouncement } from "../events/index.js";
import type { RoleMap } from "../overlay/index.js";
import { CHANGE_LOG_RETENTION_MS, ChangeFollower, SubscriberCache, type CachedCredentials } from "../provisioning/index.js";

export interface SubscriberBindingOptions {
  /** The ring whose slice this node serves. @default "sip_proxy" */
  role?: string;
  /** Nodes that keep each account: the responsible one and the next ones on the ring, as for registrations. @default 2 */
  holders?: number;
  /** Retry a failed load after this long. @default 2000 */
  retryMs?: number;
  pageSize?: number;
  /** How often the change log is read. @default DEFAULT_CHANGE_POLL_MS */
  changePollMs?: number;
}

export class SubscriberBinding {
  private cluster: DatabaseCluster | undefined;
  private cacheObj: SubscriberCache | undefined;
  private ctx: RoleContext | undefined;
  private log: Logger | undefined;
  private clock: Clock | undefined;
  private offs: Array<() => void> = [];
  private dbKey = "";
  private ringKey = "";
  private loading: Promise<void> | undefined;
  private again = false;
  private retry: TimerHandle | undefined;
  private stopped = false;
  private follower: ChangeFollower | undefined;
  readonly counters = { loads: 0, loadFailures: 0, refreshes: 0, lastLoadMs: 0 };

  /** Whether the accounts this node holds were loaded at least once (before, every lookup would miss). */
  get loaded(): boolean {
    return this.counters.loads > 0;
  }

  constructor(private readonly opts: SubscriberBindingOptions = {}) {}

  get cache(): SubscriberCache {
    if (!this.cacheObj) throw new Error("subscriber binding not started");
    return this.cacheObj;
  }

  /**
   * The SIP credential store: the accounts this node owns, from memory
   * (others are asked of their responsible node by the sip_proxy role).
   */
  lookup(username: string, realm: string): CachedCredentials | undefined {
    return this.cacheObj?.lookup(username, realm);
  }

  async start(ctx: RoleContext): Promise<void> {
    this.ctx = ctx;
    this.log = ctx.logger.child({ part: "subscribers" });
    this.clock = ctx.clock;
    this.cluster = new DatabaseCluster({ logger: this.log, clock: ctx.clock });
    this.cacheObj = new SubscriberCache({ source: this.cluster, logger: this.log, ...(this.opts.pageSize ? { pageSize: this.opts.pageSize } : {}) });
    const cluster = this.cluster;
    const cache = this.cacheObj;
    this.follower = new ChangeFollower({
      clock: ctx.clock,
      logger: this.log,
      read: (after, limit) => cluster.read((db) => readChanges(db, after, limit)),
      apply: async (change) => {
        if (change.aors.length > 0) await cache.refresh(change.aors);
        if (change.domains.length > 0) await cache.refreshDomains(change.domains);
      },
      reload: (why) => this.scheduleLoad(why),
      retentionMs: CHANGE_LOG_RETENTION_MS,
      ...(this.opts.changePollMs ? { pollMs: this.opts.changePollMs } : {}),
    });
    this.offs.push(
      ctx.databases.onChange((list) => this.onDatabases(list)),
      ctx.bus.subscribe("Thor.Provisioning", (change) => {
        this.counters.refreshes++;
        const cache = this.cacheObj;
        if (!cache || !this.cluster?.configured) return;
        const seq = change.seq;
        // Counted as applied (the change log skips it) only when every part of it was refreshed.
        void Promise.all([cache.refresh(change.aors), change.domains?.length ? cache.refreshDomains(change.domains) : undefined])
          .then(() => seq !== undefined && this.follower?.notified(seq))
          .catch((err: unknown) => this.log?.warn({ err: describeError(err) }, "refresh failed (the change log applies it again)"));
      }),
    );
    this.onDatabases(ctx.databases.all());
    const map = ctx.roleMap();
    if (map) this.onMembership(map);
  }

  /** Call on every applied membership snapshot: reloads when the ring changed. */
  onMembership(map: RoleMap): void {
    const ring = map.ring(this.opts.role ?? "sip_proxy");
    const key = ring ? map.members.filter((m) => m.roles.includes(this.opts.role ?? "sip_proxy") && m.attrs["draining"] !== true).map((m) => m.ip).sort().join(",") : "";
    if (key === this.ringKey) return;
    this.ringKey = key;
    this.scheduleLoad("ring slice changed");
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const off of this.offs) off();
    this.offs = [];
    if (this.retry && this.clock) this.clock.clearTimeout(this.retry);
    this.follower?.stop();
    await this.loading?.catch(() => undefined);
    await this.cluster?.close();
  }

  /** An XCAP document from the central database (the owner's pres-rules), or undefined when there is none. */
  async readXcapDocument(key: XcapDocumentKey): Promise<string | undefined> {
    if (!this.cluster?.configured) return undefined;
    return (await this.cluster.read((db) => getXcapDocument(db, key)))?.doc;
  }

  /** A user's XCAP documents (usage, name, tag) from the central database; none when there is no database. */
  async listXcapDocuments(xui: string): Promise<Array<{ auid: string; name: string; etag: string }>> {
    if (!this.cluster?.configured) return [];
    return this.cluster.read((db) => listXcapDocuments(db, xui));
  }

  /** Ready once a database is announced and its primary is not marked down (reads may still fall back to a secondary). */
  readiness(): { ok: boolean; detail?: string } {
    const st = this.cluster?.state();
    if (!st?.primary) return { ok: false, detail: "no database announced" };
    if (!this.loaded) return { ok: false, detail: "accounts not loaded yet" };
    return st.primaryUp ? { ok: true, detail: "primary up" } : { ok: st.secondaries.length > 0, detail: st.secondaries.length > 0 ? "primary down, reading from a secondary" : "primary down" };
  }

  statistics(): Record<string, number> {
    return { subscribers: this.cacheObj?.size ?? 0, subscriberLoads: this.counters.loads, subscriberRefreshes: this.counters.refreshes, subscriberLoadMs: Math.round(this.counters.lastLoadMs), changesFromLog: this.follower?.counters.applied ?? 0 };
  }

  private onDatabases(list: DatabaseAnnouncement[]): void {
    const cands: DatabaseCandidate[] = list.map((a) => ({ uri: a.dburi, priority: a.priority, id: a.id }));
    const key = cands.map((c) => `${c.priority}:${c.uri}`).join("|");
    if (key === this.dbKey || cands.length === 0) return;
    this.dbKey = key;
    this.cluster?.setCandidates(cands);
    this.scheduleLoad("database announced");
  }

  private scheduleLoad(why: string): void {
    if (this.stopped || !this.cluster?.configured || !this.ctx?.roleMap()) return;
    if (this.loading) {
      this.again = true;
      return;
    }
    this.loading = this.load(why).finally(() => {
      this.loading = undefined;
      if (this.again) {
        this.again = false;
        this.scheduleLoad("changed during the last load");
      }
    });
  }

  private async load(why: string): Promise<void> {
    const ctx = this.ctx!;
    const role = this.opts.role ?? "sip_proxy";
    const selfIp = ctx.self().ip;
    // Held here when this node is the responsible one or a replica: a replica answers while the responsible node is down.
    const owns = (aor: string) => (ctx.roleMap()?.successors(role, aor, this.opts.holders ?? 2) ?? []).some((e) => e.ip === selfIp);
    try {
      // The log's newest change before the load: the load includes it and everything before.
      const upTo = await this.cluster!.read((db) => latestChange(db)).catch((err: unknown) => {
        this.log?.warn({ err: describeError(err) }, "no change log in this database (run the provisioning server's migrations): changes arrive on the event bus only");
        return undefined;
      });
      const r = await this.cache.load(owns);
      if (upTo !== undefined) this.follower?.loadedUpTo(upTo);
      this.counters.loads++;
      this.counters.lastLoadMs = r.ms;
      this.log?.info({ why, accounts: r.accounts, scanned: r.scanned, ms: Math.round(r.ms) }, "owned subscribers loaded");
    } catch (err) {
      this.counters.loadFailures++;
      this.log?.warn({ why, err: describeError(err) }, "could not load subscribers; retrying");
      if (this.retry && this.clock) this.clock.clearTimeout(this.retry);
      this.retry = this.clock?.setTimeout(() => this.scheduleLoad("retry"), this.opts.retryMs ?? 2000);
    }
  }
}
