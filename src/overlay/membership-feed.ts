/**
 * The one place where a member decides what to take of the active manager's
 * membership messages, and what changed when it does. The node runtime,
 * `thor dns`, the monitor, the provisioning role, the standby managers and
 * the command-line tools all follow membership through it.
 *
 * Acceptance rules (docs/manager.md, "Membership" and "Deltas"):
 * - only what is published under a certificate with `OU=manager` counts;
 * - the membership has a version `(epoch, seq)`; a delta for `seq + 1` of
 *   the current epoch and manager is applied, an older one ignored, a later
 *   one reveals a gap;
 * - a full table is asked for (`Thor.MembersRequest`, answered to this
 *   member alone) at start, after a gap, when a delta or beacon's digest
 *   differs from the table's, and on a new manager term; deltas arriving
 *   meanwhile are kept (bounded) and replayed on top of the table;
 * - staleness: once nothing confirmed the current version for `staleMs`, a
 *   table of any manager is taken (every manager restarted and terms began
 *   anew).
 *
 * Every accepted change is published to listeners as a
 * {@link MembershipUpdate} carrying a discriminated union of changes (joined,
 * left, changed, term) and the role map, whose rings are updated by the
 * changed members' points only ({@link RoleMap.withChanges}).
 *
 * Pure apart from the clock: a consumer wires it to the bus with
 * {@link MembershipFeed.follow}.
 */
import { systemClock, type Clock, type Logger, type TimerHandle } from "../base/index.js";
import { sameEntity, type Entity } from "./entity.js";
import { RoleMap } from "./role-map.js";
import type { MembershipSnapshot } from "./snapshot.js";
import {
  decodeTable,
  fromTuple,
  MembershipDigest,
  TableAssembler,
  type MembershipDelta,
  type MembershipMessage,
  type MembershipRequest,
  type MembershipTablePart,
  type TableRequestReason,
} from "./membership-codec.js";
import { membershipChannel } from "./diagnostics.js";
import { DEFAULT_PENDING_DELTAS, DEFAULT_SNAPSHOT_STALE_MS, DEFAULT_TABLE_REQUEST_INTERVAL_MS } from "./options.js";

/** One change between two applied versions. */
export type MembershipChange =
  | { readonly type: "joined"; readonly member: Entity }
  | { readonly type: "left"; readonly member: Entity }
  /** Same id, other state: restarted, draining or not, other roles, ports or attributes. */
  | { readonly type: "changed"; readonly member: Entity; readonly previous: Entity }
  /** A new manager term (a takeover, or a restarted manager cluster). */
  | { readonly type: "term"; readonly epoch: number; readonly manager: string };

/** What an accepted delta or table changed. */
export interface MembershipUpdate {
  /** The membership after the change (members sorted by id). */
  readonly snapshot: MembershipSnapshot;
  readonly previous: MembershipSnapshot | undefined;
  /** The rings of the new membership (the same object as before when no member changed). */
  readonly map: RoleMap;
  /** Empty when the table only repeats the membership. */
  readonly changes: readonly MembershipChange[];
}

/** Why a message was not applied. */
export type MembershipRefusal =
  /** Not published under a manager's certificate. */
  | "not-a-manager"
  /** Older than (or the same as) the applied version. */
  | "not-newer"
  /** Same term, another manager (two actives after a partition, until the election settles). */
  | "other-manager"
  /** No table yet: kept, the table is asked for. */
  | "no-table"
  /** A later version than the next one: kept, the table is asked for. */
  | "gap"
  /** A new term: kept, the table is asked for. */
  | "new-term"
  /** The membership is stale and this comes from another term or manager: the table is asked for. */
  | "stale"
  /** A beacon with the applied version and another digest: the table is asked for. */
  | "digest-mismatch"
  /** A table whose content does not decode or does not match its header. */
  | "bad-table"
  /** One part of a table: waiting for the others. */
  | "partial-table";

export type MembershipVerdict =
  | { readonly type: "applied"; readonly update: MembershipUpdate }
  /** A beacon confirming the applied version and digest. */
  | { readonly type: "current" }
  | { readonly type: "ignored"; readonly reason: MembershipRefusal };

/** The part of the publisher's identity the feed checks (the event server stamps it from the TLS certificate). */
export interface SnapshotPublisher {
  readonly subject: Readonly<Record<string, string>>;
}

/** Anything that delivers the membership topics with their publisher and carries requests, e.g. an `EventBus`. */
export interface MembershipSource {
  subscribe(topic: "Thor.Members", handler: (message: MembershipMessage, meta: { readonly publisher: SnapshotPublisher }) => void): () => void;
  subscribe(topic: "Thor.MembersTable", handler: (part: MembershipTablePart, meta: { readonly publisher: SnapshotPublisher }) => void): () => void;
  publish(topic: "Thor.MembersRequest", payload: MembershipRequest): void;
}

export interface MembershipFeedOptions {
  clock?: Clock;
  /** Logs refused messages (at warn) and applied changes (at info). */
  logger?: Logger;
  /** @default DEFAULT_SNAPSHOT_STALE_MS */
  staleMs?: number;
  /** Ring options of the role map built from each membership. */
  multiply?: number;
  /** While a table is wanted, the request is repeated this often. @default DEFAULT_TABLE_REQUEST_INTERVAL_MS */
  requestIntervalMs?: number;
  /** Deltas kept while a table is awaited. @default DEFAULT_PENDING_DELTAS */
  maxPending?: number;
}

export type MembershipListener = (update: MembershipUpdate) => void;

/** Counters of the feed (for metrics and tests). */
export interface MembershipFeedStats {
  deltas: number;
  tables: number;
  requests: number;
  refused: number;
}

export class MembershipFeed {
  private readonly clock: Clock;
  private snapshot: MembershipSnapshot | undefined;
  private byId = new Map<string, Entity>();
  private digest = new MembershipDigest();
  private map: RoleMap | undefined;
  private appliedAt = 0;
  private refreshedAt = 0;
  private readonly listeners = new Set<MembershipListener>();
  private readonly assembler = new TableAssembler();
  private pending: MembershipDelta[] = [];
  private wanted: TableRequestReason | undefined;
  private lastRequestAt = Number.NEGATIVE_INFINITY;
  /** Whether a manager's message arrived since the last request (if none did, that request may have been lost: no link was up). */
  private heardSinceRequest = true;
  private retry: TimerHandle | undefined;
  private requester: ((req: MembershipRequest) => void) | undefined;
  readonly stats: MembershipFeedStats = { deltas: 0, tables: 0, requests: 0, refused: 0 };

  constructor(private readonly opts: MembershipFeedOptions = {}) {
    this.clock = opts.clock ?? systemClock;
  }

  /** The applied membership. */
  get current(): MembershipSnapshot | undefined {
    return this.snapshot;
  }

  /** The rings of the applied membership. */
  get roleMap(): RoleMap | undefined {
    return this.map;
  }

  /** Monotonic time (clock.now) a change was last applied, 0 before. */
  get lastAppliedAt(): number {
    return this.appliedAt;
  }

  /**
   * Monotonic time (clock.now) the active manager last confirmed the
   * membership: a change applied or a beacon of the same version; 0 before.
   */
  get lastConfirmedAt(): number {
    return this.refreshedAt;
  }

  /** Why a full table is wanted now, if it is. */
  get wantsTable(): TableRequestReason | undefined {
    return this.wanted;
  }

  /** Listen to every applied change; returns an unsubscribe function. */
  subscribe(listener: MembershipListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Take the membership topics of `source` and ask it for tables; returns an unsubscribe function. */
  follow(source: MembershipSource): () => void {
    this.requester = (req) => source.publish("Thor.MembersRequest", req);
    const offs = [source.subscribe("Thor.Members", (m, meta) => this.offer(m, meta.publisher)), source.subscribe("Thor.MembersTable", (p, meta) => this.offerTable(p, meta.publisher))];
    if (!this.snapshot) this.want("start");
    return () => {
      offs.forEach((off) => off());
      this.requester = undefined;
      if (this.retry) this.clock.clearTimeout(this.retry);
      this.retry = undefined;
    };
  }

  /** Decide on one delta or beacon; listeners hear of an applied change before this returns. */
  offer(message: MembershipMessage, publisher: SnapshotPublisher): MembershipVerdict {
    if (publisher.subject["OU"] !== "manager") {
      this.opts.logger?.warn({ publisher: publisher.subject["CN"], kind: message.kind }, "membership message not published by a manager, ignored");
      return this.refuse("not-a-manager");
    }
    if (!this.heardSinceRequest && this.wanted) this.want(this.wanted, true);
    const verdict = this.decide(message);
    this.heardSinceRequest = true;
    return verdict;
  }

  private decide(message: MembershipMessage): MembershipVerdict {
    const cur = this.snapshot;
    if (message.kind === "delta") this.stats.deltas++;
    if (!cur) return this.keep(message, "no-table", "start");
    const sameTerm = message.epoch === cur.epoch && message.manager === cur.manager;
    if (!sameTerm && this.isStale()) return this.keep(message, "stale", "stale");
    if (message.epoch < cur.epoch) return this.refuse("not-newer");
    if (message.epoch > cur.epoch) return this.keep(message, "new-term", "term");
    if (message.manager !== cur.manager) return this.refuse("other-manager");
    if (message.kind === "beacon") {
      if (message.seq < cur.seq) return this.refuse("not-newer");
      if (message.seq > cur.seq) return this.keep(message, "gap", "gap");
      if (message.digest !== this.digest.value || message.count !== this.byId.size) return this.keep(message, "digest-mismatch", "digest");
      this.refreshedAt = this.clock.now();
      if (this.wanted === "digest") this.wanted = undefined; // another beacon agrees again (a delta repaired it)
      return { type: "current" };
    }
    if (message.seq <= cur.seq) return this.refuse("not-newer");
    if (message.seq > cur.seq + 1) return this.keep(message, "gap", "gap");
    const update = this.applyDelta(message);
    this.replayPending();
    return { type: "applied", update };
  }

  /** Decide on one part of a full table; the table is applied once every part is here. */
  offerTable(part: MembershipTablePart, publisher: SnapshotPublisher): MembershipVerdict {
    if (publisher.subject["OU"] !== "manager") {
      this.opts.logger?.warn({ publisher: publisher.subject["CN"] }, "membership table not published by a manager, ignored");
      return this.refuse("not-a-manager");
    }
    if (!this.tableWelcome(part)) return this.refuse("not-newer");
    const whole = this.assembler.add(part);
    if (!whole) return { type: "ignored", reason: "partial-table" };
    const decoded = decodeTable(whole.header, whole.data);
    if (!decoded.ok) {
      this.opts.logger?.warn({ epoch: part.epoch, seq: part.seq, manager: part.manager, reason: decoded.error }, "membership table refused");
      return this.refuse("bad-table");
    }
    this.stats.tables++;
    const update = this.applyTable(whole.header, decoded.members);
    this.replayPending();
    return { type: "applied", update };
  }

  /**
   * Apply a whole membership at once, under the same rules as a table (for
   * tools and tests holding a snapshot already checked elsewhere).
   */
  offerSnapshot(snap: MembershipSnapshot, publisher: SnapshotPublisher): MembershipVerdict {
    if (publisher.subject["OU"] !== "manager") return this.refuse("not-a-manager");
    if (!this.tableWelcome(snap)) return this.refuse("not-newer");
    return { type: "applied", update: this.applyTable(snap, snap.members) };
  }

  private isStale(): boolean {
    return this.snapshot !== undefined && this.clock.now() - this.refreshedAt > (this.opts.staleMs ?? DEFAULT_SNAPSHOT_STALE_MS);
  }

  /** Whether a table of this version is worth taking now. */
  private tableWelcome(h: { epoch: number; seq: number; manager: string }): boolean {
    const cur = this.snapshot;
    if (!cur || this.isStale() || h.epoch > cur.epoch) return true;
    if (h.epoch < cur.epoch || h.manager !== cur.manager) return false;
    return h.seq > cur.seq || (h.seq === cur.seq && this.wanted === "digest");
  }

  private refuse(reason: MembershipRefusal): MembershipVerdict {
    this.stats.refused++;
    membershipChannel.publish({ verdict: reason, members: this.byId.size, changes: 0 });
    return { type: "ignored", reason };
  }

  /** Keep a delta for after the table (bounded), and ask for the table. */
  private keep(message: MembershipMessage, reason: MembershipRefusal, why: TableRequestReason): MembershipVerdict {
    if (message.kind === "delta") {
      this.pending.push(message);
      const max = this.opts.maxPending ?? DEFAULT_PENDING_DELTAS;
      if (this.pending.length > max) this.pending.splice(0, this.pending.length - max);
    }
    this.want(why);
    membershipChannel.publish({ verdict: reason, members: this.byId.size, changes: 0 });
    return { type: "ignored", reason };
  }

  /**
   * Ask for the full table now, or when the last request is old enough, and
   * keep asking until one is applied. `now` asks at once: the first message
   * from a manager after a request that nothing followed (it went out before
   * any link to an event server was up).
   */
  private want(why: TableRequestReason, now = false): void {
    if (!this.wanted || why !== "digest") this.wanted = why;
    const interval = this.opts.requestIntervalMs ?? DEFAULT_TABLE_REQUEST_INTERVAL_MS;
    const at = this.clock.now();
    if (this.requester && (now || at - this.lastRequestAt >= interval)) {
      this.lastRequestAt = at;
      this.heardSinceRequest = false;
      this.stats.requests++;
      const cur = this.snapshot;
      try {
        this.requester(cur ? { reason: this.wanted, have: { epoch: cur.epoch, seq: cur.seq } } : { reason: this.wanted });
      } catch (err) {
        // The source was closed under us (a tool stopping): no more requests, instead of an error thrown from a timer.
        this.opts.logger?.debug({ err: err instanceof Error ? err.message : String(err) }, "membership table request not sent; no longer asking");
        this.requester = undefined;
        return;
      }
    }
    if (this.requester && !this.retry) {
      this.retry = this.clock.setTimeout(() => {
        this.retry = undefined;
        if (this.wanted) this.want(this.wanted);
      }, interval);
    }
  }

  private applyDelta(d: MembershipDelta): MembershipUpdate {
    const ops: Array<{ before?: Entity; after?: Entity }> = [];
    const changes: MembershipChange[] = [];
    for (const id of d.remove) {
      const before = this.byId.get(id);
      if (!before) continue;
      this.byId.delete(id);
      this.digest.toggle(before);
      ops.push({ before });
      changes.push({ type: "left", member: before });
    }
    for (const t of d.upsert) {
      const after = fromTuple(t);
      const before = this.byId.get(after.id);
      if (before && sameEntity(before, after)) continue;
      if (before) this.digest.toggle(before);
      this.digest.toggle(after);
      this.byId.set(after.id, after);
      ops.push(before ? { before, after } : { after });
      changes.push(before ? { type: "changed", member: after, previous: before } : { type: "joined", member: after });
    }
    const prev = this.snapshot!;
    const touched = new Set(ops.map((o) => (o.before ?? o.after)!.id));
    const fresh = ops.flatMap((o) => (o.after ? [o.after] : [])).sort(byId);
    const members = mergeMembers(prev.members.filter((m) => !touched.has(m.id)), fresh);
    const snap: MembershipSnapshot = { epoch: d.epoch, seq: d.seq, manager: d.manager, at: d.at, members };
    const map = ops.length === 0 && this.map ? this.map : (this.map ?? RoleMap.fromMembers([], this.ringOptions())).withChanges(members, ops);
    if (this.digest.value !== d.digest || this.byId.size !== d.count) {
      this.opts.logger?.warn({ epoch: d.epoch, seq: d.seq, digest: d.digest, ours: this.digest.value, count: d.count, members: this.byId.size }, "membership differs from the manager's after a delta; asking for the table");
      this.want("digest");
    }
    return this.publish(snap, prev, map, changes);
  }

  private applyTable(h: { epoch: number; seq: number; manager: string; at: number }, members: readonly Entity[]): MembershipUpdate {
    const prev = this.snapshot;
    const changes = diffMembership(prev, { epoch: h.epoch, manager: h.manager, members });
    const sorted = [...members].sort(byId);
    const snap: MembershipSnapshot = { epoch: h.epoch, seq: h.seq, manager: h.manager, at: h.at, members: sorted };
    this.byId = new Map(sorted.map((m) => [m.id, m]));
    this.digest = MembershipDigest.of(sorted);
    this.wanted = undefined;
    this.lastRequestAt = Number.NEGATIVE_INFINITY; // the next want asks at once
    this.assembler.reset();
    this.pending = this.pending.filter((d) => d.epoch === h.epoch && d.manager === h.manager && d.seq > h.seq);
    const memberChanges = changes.filter((c) => c.type !== "term");
    let map: RoleMap;
    if (this.map && memberChanges.length === 0) map = this.map;
    else if (this.map && memberChanges.length * 4 < sorted.length)
      map = this.map.withChanges(
        sorted,
        memberChanges.map((c) => (c.type === "joined" ? { after: c.member } : c.type === "left" ? { before: c.member } : { before: (c as { previous: Entity }).previous, after: c.member })),
      );
    else map = RoleMap.fromMembers(sorted, this.ringOptions());
    return this.publish(snap, prev, map, changes);
  }

  /** Apply kept deltas that now follow on. */
  private replayPending(): void {
    while (this.pending.length > 0 && this.snapshot) {
      const cur = this.snapshot;
      this.pending = this.pending.filter((d) => d.epoch === cur.epoch && d.manager === cur.manager && d.seq > cur.seq);
      const next = this.pending.find((d) => d.seq === cur.seq + 1);
      if (!next) return;
      this.pending = this.pending.filter((d) => d !== next);
      this.applyDelta(next);
    }
  }

  private ringOptions(): { multiply?: number } {
    return this.opts.multiply ? { multiply: this.opts.multiply } : {};
  }

  private publish(snap: MembershipSnapshot, previous: MembershipSnapshot | undefined, map: RoleMap, changes: MembershipChange[]): MembershipUpdate {
    const now = this.clock.now();
    this.snapshot = snap;
    this.map = map;
    this.appliedAt = now;
    this.refreshedAt = now;
    const update: MembershipUpdate = { snapshot: snap, previous, map, changes };
    if (changes.length > 0) this.opts.logger?.info({ epoch: snap.epoch, seq: snap.seq, manager: snap.manager, members: snap.members.length, changes: changes.length }, "membership applied");
    membershipChannel.publish({ verdict: "applied", members: snap.members.length, changes: changes.length });
    for (const l of this.listeners) l(update);
    return update;
  }
}

function byId(a: Entity, b: Entity): number {
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

/** Two id-sorted lists merged (disjoint ids). */
function mergeMembers(a: readonly Entity[], b: readonly Entity[]): Entity[] {
  if (b.length === 0) return a as Entity[];
  const out: Entity[] = [];
  let j = 0;
  for (const m of a) {
    while (j < b.length && b[j]!.id < m.id) out.push(b[j++]!);
    out.push(m);
  }
  while (j < b.length) out.push(b[j++]!);
  return out;
}

/** A membership with its term, as {@link diffMembership} compares them. */
export interface MembershipVersionOf {
  readonly epoch: number;
  readonly manager: string;
  readonly members: readonly Entity[];
}

/** The changes that turn `before` into `after` (a term change first, then members by id). */
export function diffMembership(before: MembershipVersionOf | undefined, after: MembershipVersionOf): MembershipChange[] {
  const changes: MembershipChange[] = [];
  if (!before || before.epoch !== after.epoch || before.manager !== after.manager) changes.push({ type: "term", epoch: after.epoch, manager: after.manager });
  const old = new Map((before?.members ?? []).map((m) => [m.id, m]));
  for (const m of after.members) {
    const prev = old.get(m.id);
    if (!prev) changes.push({ type: "joined", member: m });
    else if (!sameEntity(prev, m)) changes.push({ type: "changed", member: m, previous: prev });
    old.delete(m.id);
  }
  for (const m of old.values()) changes.push({ type: "left", member: m });
  return changes;
}
