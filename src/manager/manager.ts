/**
 * `thor manager`: builds the membership from presence and leave events,
 * expires silent members and, while it is the elected active manager,
 * publishes the membership (docs/manager.md, "Deltas"):
 * - the changes of each short window (`deltaWindowMs`) as one numbered delta
 *   on `Thor.Members` (split into several past MAX_DELTA_OPS changes);
 * - a beacon (version, count, digest; no members) every `snapshotIntervalMs`
 *   and at once when it takes over (a new term);
 * - the full table, compressed and in parts, only to the members that ask
 *   on `Thor.MembersRequest`, addressed to their certificate CN; requests
 *   of one window are answered together, the encoding is cached per version.
 * Standby managers keep the same table from presence so a takeover starts
 * from a fresh view, and follow the active manager's membership through the
 * one membership feed; the new active manager seeds its table with that
 * membership, so members that are alive but between two presence
 * announcements do not flap out of the ring.
 */
import { describeError, systemClock, type Clock, type Logger, type TimerHandle } from "../base/index.js";
import { MAX_ADDRESSEES, type EventBus, type EventMeta } from "../events/index.js";
import { encodeTable, MAX_DELTA_OPS, MembershipDigest, MembershipFeed, sameEntity, toTuple, type Entity, type MembershipSnapshot, type MembershipTablePart } from "../overlay/index.js";
import { canonicalIp } from "../pki/index.js";
import { Election, type Transition } from "./election.js";
import { electionChannel } from "./diagnostics.js";
import { MembershipTable, type TableChange } from "./membership-table.js";
import { DEFAULT_DELTA_WINDOW_MS, DEFAULT_HEARTBEAT_MS, DEFAULT_MANAGER_DEAD_MS, DEFAULT_MAX_TABLE_REQUESTERS, DEFAULT_MEMBER_TIMEOUT_MS, DEFAULT_SNAPSHOT_INTERVAL_MS } from "./options.js";

export interface ManagerOptions {
  bus: EventBus;
  logger: Logger;
  clock?: Clock;
  /** Manager id: its certificate CN. */
  id: string;
  ip: string;
  /** Lower is preferred in the election. @default 100 */
  priority?: number;
  heartbeatMs?: number;
  deadMs?: number;
  memberTimeoutMs?: number;
  /** The beacon (version and digest) is published this often. @default DEFAULT_SNAPSHOT_INTERVAL_MS */
  snapshotIntervalMs?: number;
  /** Changes within this window go out as one delta; table requests within it are answered together. @default DEFAULT_DELTA_WINDOW_MS */
  deltaWindowMs?: number;
  /**
   * Whether this manager can hear the network now: links to a majority of
   * the event servers delivered something recently (`hearsQuorum`). While it
   * cannot, it expires no member, takes no part in the election and
   * publishes nothing (no heartbeat, delta, beacon or table): it cannot tell
   * silence from death, and a minority side must not follow its view
   * (docs/manager.md, "When the event servers are out of reach"). Asked
   * once per heartbeat; `graceMs` is how late that heartbeat runs (a busy
   * event loop has not read what arrived meanwhile). @default always
   */
  hearing?: (graceMs: number) => boolean;
}

/**
 * Why a presence is refused: the certificate must be a node's (OU=node),
 * name the member (CN), carry the address it announces among its IP SANs,
 * and allow its roles. A database announcer, a monitor or a manager never
 * joins a ring, and a node cannot announce itself at another address.
 */
export function checkPresence(entity: Entity, meta: EventMeta): string | undefined {
  const cn = meta.publisher.subject["CN"];
  if (cn !== entity.id) return `presence for "${entity.id}" published by certificate CN=${cn ?? "(none)"}`;
  const ou = meta.publisher.subject["OU"];
  if (ou !== "node") return `presence of ${cn} refused: certificate OU=${ou ?? "(none)"}, only OU=node members join the rings`;
  const ips = meta.publisher.ips ?? [];
  if (!ips.some((ip) => canonicalIp(ip) === canonicalIp(entity.ip))) return `presence of ${cn} at ${entity.ip} refused: its certificate names ${ips.length > 0 ? ips.join(", ") : "no IP address"}`;
  const allowed = meta.publisher.roles;
  if (!allowed.includes("*")) {
    const denied = entity.roles.filter((r) => !allowed.includes(r));
    if (denied.length > 0) return `certificate of ${cn} does not allow role(s) ${denied.join(", ")}`;
  }
  return undefined;
}

/** Most bytes of member entries in one delta, far below the event servers' frame limit. @default 256 KiB */
const MAX_DELTA_BYTES = 256 * 1024;

/** Consecutive batches of at most MAX_DELTA_OPS changes and about MAX_DELTA_BYTES of entries (an entry larger alone goes alone). */
function deltaBatches<T extends { entity: Entity; gone: boolean }>(ops: readonly T[]): T[][] {
  const out: T[][] = [];
  let batch: T[] = [];
  let bytes = 0;
  for (const op of ops) {
    const size = op.gone ? op.entity.id.length + 3 : JSON.stringify(toTuple(op.entity)).length;
    if (batch.length > 0 && (batch.length >= MAX_DELTA_OPS || bytes + size > MAX_DELTA_BYTES)) {
      out.push(batch);
      batch = [];
      bytes = 0;
    }
    batch.push(op);
    bytes += size;
  }
  if (batch.length > 0) out.push(batch);
  return out;
}

/** What the active manager has published: the membership at version `(epoch, seq)`. */
interface Published {
  readonly epoch: number;
  seq: number;
  readonly byId: Map<string, Entity>;
  readonly digest: MembershipDigest;
  at: number;
  /** Cached: the members sorted, and the table parts, of this version. */
  members?: MembershipSnapshot;
  parts?: MembershipTablePart[];
}

export class Manager {
  private readonly clock: Clock;
  private readonly log: Logger;
  private readonly table = new MembershipTable();
  private readonly election: Election;
  private readonly heartbeatMs: number;
  private readonly memberTimeoutMs: number;
  private readonly snapshotIntervalMs: number;
  private readonly deltaWindowMs: number;
  /** The membership the active manager publishes (also seen by standbys): seeds the table on takeover. */
  private readonly feed: MembershipFeed;
  private published: Published | undefined;
  private readonly dirty = new Set<string>();
  private readonly requesters = new Set<string>();
  private flushTimer: TimerHandle | undefined;
  private answerTimer: TimerHandle | undefined;
  private timers: TimerHandle[] = [];
  private lastPeriodic = 0;
  private unsubs: Array<() => void> = [];
  private readonly refusedOnce = new Set<string>();
  private readonly transitionListeners = new Set<(t: Transition) => void>();
  /** Since when this manager has heard nothing (no event server link up). */
  private deafSince: number | undefined;
  /** When the next beat is due (its lateness is how busy the event loop was). */
  private beatDue: number | undefined;
  /** Presence announcements refused (see {@link checkPresence}); each distinct reason is logged once. Tables sent, deltas published. */
  readonly counters = { presenceRefused: 0, deltas: 0, beacons: 0, tables: 0, tableRequestsDropped: 0, deafIntervals: 0 };

  constructor(private readonly opts: ManagerOptions) {
    this.clock = opts.clock ?? systemClock;
    this.log = opts.logger;
    this.heartbeatMs = opts.heartbeatMs ?? DEFAULT_HEARTBEAT_MS;
    this.memberTimeoutMs = opts.memberTimeoutMs ?? DEFAULT_MEMBER_TIMEOUT_MS;
    this.snapshotIntervalMs = opts.snapshotIntervalMs ?? DEFAULT_SNAPSHOT_INTERVAL_MS;
    this.deltaWindowMs = opts.deltaWindowMs ?? DEFAULT_DELTA_WINDOW_MS;
    this.feed = new MembershipFeed({ clock: this.clock, multiply: 1 });
    this.election = new Election(
      { id: opts.id, ip: opts.ip, priority: opts.priority ?? 100, startedAt: this.clock.wallNow(), deadMs: opts.deadMs ?? DEFAULT_MANAGER_DEAD_MS, wallNow: () => this.clock.wallNow() },
      this.clock.now(),
    );
  }

  get role(): "listening" | "standby" | "active" {
    return this.election.role;
  }

  get isActive(): boolean {
    return this.election.role === "active";
  }

  /** The membership this manager publishes (undefined unless it has been active). */
  get snapshot(): MembershipSnapshot | undefined {
    const p = this.published;
    if (!p) return undefined;
    p.members ??= { epoch: p.epoch, seq: p.seq, manager: this.opts.id, at: p.at, members: [...p.byId.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)) };
    return p.members;
  }

  onTransition(listener: (t: Transition) => void): () => void {
    this.transitionListeners.add(listener);
    return () => this.transitionListeners.delete(listener);
  }

  start(): void {
    const { bus } = this.opts;
    this.unsubs.push(
      bus.subscribe("Thor.Manager", (hb) => {
        const now = this.clock.now();
        this.apply(this.election.receive(hb, now, this.hearing));
      }),
      bus.subscribe("Thor.Presence", (entity, meta) => {
        const refusal = checkPresence(entity, meta);
        if (refusal) {
          this.counters.presenceRefused++;
          if (!this.refusedOnce.has(refusal) && this.refusedOnce.size < 1000) {
            this.log.warn({ member: entity.id, publisher: meta.publisher.subject["CN"], reason: refusal, refused: this.counters.presenceRefused }, "presence refused");
            this.refusedOnce.add(refusal);
          }
          return;
        }
        this.changed([this.table.presence(entity, this.clock.now())]);
      }),
      bus.subscribe("Thor.Leave", (leave, meta) => {
        if (meta.publisher.subject["CN"] !== leave.id) {
          this.log.warn({ member: leave.id, publisher: meta.publisher.subject["CN"] }, "leave refused: not published by the member itself");
          return;
        }
        this.changed([this.table.leave(leave.id)]);
      }),
      bus.subscribe("Thor.MembersRequest", (_req, meta) => this.requested(meta)),
      this.feed.follow(bus),
    );
    this.beat();
  }

  /** Resign (others take over at once) and stop. */
  stop(): void {
    for (const t of [...this.timers, this.flushTimer, this.answerTimer]) if (t) this.clock.clearTimeout(t);
    this.timers = [];
    this.flushTimer = this.answerTimer = undefined;
    const wasActive = this.isActive;
    try {
      this.opts.bus.publish("Thor.Manager", this.election.resign());
    } catch (err) {
      this.log.debug({ err: describeError(err) }, "could not publish the resignation");
    }
    if (wasActive) this.log.info("resigned as active manager");
    for (const off of this.unsubs) off();
    this.unsubs = [];
  }

  private beat(): void {
    const now = this.clock.now();
    // A beat that runs late ran on a busy event loop, which has not yet read what arrived meanwhile:
    // the links count as heard for that much longer.
    const lag = this.beatDue === undefined ? 0 : Math.max(0, now - this.beatDue);
    this.beatDue = now + this.heartbeatMs;
    if (!this.hears(now, lag)) {
      // Nothing can be heard nor published: keep the table and the role as they are.
      this.timers = [this.clock.setTimeout(() => this.beat(), this.heartbeatMs)];
      return;
    }
    this.apply(this.election.tick(now));
    this.opts.bus.publish("Thor.Manager", this.election.heartbeat());
    this.changed(this.table.expire(now, this.memberTimeoutMs));
    if (this.isActive && now - this.lastPeriodic >= this.snapshotIntervalMs) this.beacon();
    this.timers = [this.clock.setTimeout(() => this.beat(), this.heartbeatMs)];
  }

  /** Whether the last beat heard a majority of the event servers (decided once per heartbeat, in {@link beat}). */
  private get hearing(): boolean {
    return this.deafSince === undefined;
  }

  /**
   * Whether the network can be heard now. When it comes back after an
   * outage, every member and every other manager counts as heard from now:
   * they get a full timeout to announce themselves again, so nobody is
   * expired and no standby takes over for a silence it caused itself.
   */
  private hears(now: number, graceMs: number): boolean {
    if (!(this.opts.hearing?.(graceMs) ?? true)) {
      if (this.deafSince === undefined) {
        this.deafSince = now;
        this.counters.deafIntervals++;
        this.log.warn({ role: this.role, members: this.table.members().length }, "no majority of the event servers heard: expiring no member, publishing nothing and keeping the role until it is heard again");
      }
      return false;
    }
    if (this.deafSince !== undefined) {
      this.log.info({ deafMs: now - this.deafSince, role: this.role }, "a majority of the event servers heard again: members and managers get a full timeout to be heard");
      this.deafSince = undefined;
      this.table.touchAll(now);
      this.election.resume(now);
    }
    return true;
  }

  private apply(t: Transition | undefined): void {
    if (!t) return;
    this.log.info({ from: t.from, to: t.to, term: t.term, reason: t.reason }, t.to === "active" ? "became the active manager" : `manager is now ${t.to}`);
    electionChannel.publish({ from: t.from, to: t.to, term: t.term });
    for (const l of this.transitionListeners) l(t);
    if (t.to === "active") {
      const seen = this.feed.current;
      const seeded = seen ? this.table.seed(seen.members, this.clock.now()) : 0;
      if (seeded > 0) this.log.info({ seeded, fromEpoch: seen?.epoch }, "seeded membership from the last membership seen");
      // A new term starts from the whole table at seq 0; members learn of it from the beacon and ask for the table.
      const byId = new Map(this.table.members().map((m) => [m.id, m]));
      this.published = { epoch: this.election.term, seq: 0, byId, digest: MembershipDigest.of(byId.values()), at: this.clock.wallNow() };
      this.dirty.clear();
      this.opts.bus.publish("Thor.Manager", this.election.heartbeat());
      this.beacon();
    } else if (t.from === "active") {
      this.dirty.clear();
      this.requesters.clear();
    }
  }

  private changed(changes: Array<TableChange | undefined>): void {
    for (const c of changes) {
      if (!c) continue;
      this.log.info({ member: c.entity.id, ip: c.entity.ip, roles: c.entity.roles }, `member ${c.kind}`);
      if (this.isActive) this.dirty.add(c.entity.id);
    }
    if (this.dirty.size > 0 && !this.flushTimer) this.flushTimer = this.clock.setTimeout(() => this.flush(), this.deltaWindowMs);
  }

  /** Publish the changes of the window as deltas (consecutive seqs, at most MAX_DELTA_OPS changes each). */
  private flush(): void {
    if (this.flushTimer) this.clock.clearTimeout(this.flushTimer);
    this.flushTimer = undefined;
    const p = this.published;
    if (!this.isActive || !p) {
      this.dirty.clear();
      return;
    }
    if (!this.hearing) {
      // Without a majority of the event servers nothing goes out (a minority side must not follow this view): retried.
      this.flushTimer = this.clock.setTimeout(() => this.flush(), this.heartbeatMs);
      return;
    }
    const ops: Array<{ entity: Entity; gone: boolean }> = [];
    for (const id of this.dirty) {
      const now = this.table.get(id);
      const was = p.byId.get(id);
      if (now && (!was || !sameEntity(was, now))) ops.push({ entity: now, gone: false });
      else if (!now && was) ops.push({ entity: was, gone: true });
    }
    this.dirty.clear();
    for (const batch of deltaBatches(ops)) {
      for (const { entity, gone } of batch) {
        const was = p.byId.get(entity.id);
        if (was) p.digest.toggle(was);
        if (gone) p.byId.delete(entity.id);
        else {
          p.digest.toggle(entity);
          p.byId.set(entity.id, entity);
        }
      }
      p.seq++;
      p.at = this.clock.wallNow();
      p.members = undefined;
      p.parts = undefined;
      this.counters.deltas++;
      const upsert = batch.filter((o) => !o.gone).map((o) => toTuple(o.entity));
      const remove = batch.filter((o) => o.gone).map((o) => o.entity.id);
      this.log.debug({ epoch: p.epoch, seq: p.seq, upsert: upsert.length, remove: remove.length }, "delta published");
      this.opts.bus.publish("Thor.Members", { kind: "delta", epoch: p.epoch, seq: p.seq, manager: this.opts.id, at: p.at, count: p.byId.size, digest: p.digest.value, upsert, remove });
    }
  }

  private beacon(): void {
    const p = this.published;
    if (!p) return;
    this.lastPeriodic = this.clock.now();
    this.counters.beacons++;
    this.opts.bus.publish("Thor.Members", { kind: "beacon", epoch: p.epoch, seq: p.seq, manager: this.opts.id, at: this.clock.wallNow(), count: p.byId.size, digest: p.digest.value });
  }

  /** A member asked for the table: answered with the others of the same window, to their certificates alone. */
  private requested(meta: EventMeta): void {
    if (!this.isActive) return;
    const cn = meta.publisher.subject["CN"];
    if (!cn) return;
    if (this.requesters.size >= DEFAULT_MAX_TABLE_REQUESTERS && !this.requesters.has(cn)) {
      this.counters.tableRequestsDropped++;
      return;
    }
    this.requesters.add(cn);
    if (!this.answerTimer) this.answerTimer = this.clock.setTimeout(() => this.answer(), this.deltaWindowMs);
  }

  private answer(): void {
    this.answerTimer = undefined;
    if (this.dirty.size > 0) this.flush(); // the table includes every change announced so far
    const p = this.published;
    const to = [...this.requesters];
    this.requesters.clear();
    // Members ask again every second; a manager without a majority of the event servers answers none of them.
    if (!this.isActive || !p || to.length === 0 || !this.hearing) return;
    p.parts ??= encodeTable({ epoch: p.epoch, seq: p.seq, manager: this.opts.id, at: p.at }, this.snapshot!.members);
    for (let i = 0; i < to.length; i += MAX_ADDRESSEES) {
      const batch = to.slice(i, i + MAX_ADDRESSEES);
      for (const part of p.parts) this.opts.bus.publish("Thor.MembersTable", part, { to: batch });
    }
    this.counters.tables += to.length;
    this.log.debug({ epoch: p.epoch, seq: p.seq, to: to.length, parts: p.parts.length }, "membership table sent");
  }
}
