/**
 * `thor manager`: builds the membership from presence and leave events,
 * expires silent members and, while it is the elected active manager,
 * publishes the full snapshot on `Thor.Members` on every change and every
 * `snapshotIntervalMs`. Standby managers keep the same table so a takeover
 * starts from a fresh view; the new active manager also seeds it with the
 * last snapshot it saw, so members that are alive but between two presence
 * announcements do not flap out of the ring.
 */
import { describeError, systemClock, type Clock, type Logger, type TimerHandle } from "../base/index.js";
import type { EventBus, EventMeta } from "../events/index.js";
import { isNewerSnapshot, type Entity, type MembershipSnapshot } from "../overlay/index.js";
import { canonicalIp } from "../pki/index.js";
import { Election, type Transition } from "./election.js";
import { electionChannel } from "./diagnostics.js";
import { MembershipTable, type TableChange } from "./membership-table.js";
import { DEFAULT_HEARTBEAT_MS, DEFAULT_MANAGER_DEAD_MS, DEFAULT_MEMBER_TIMEOUT_MS, DEFAULT_SNAPSHOT_INTERVAL_MS } from "./options.js";

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
  snapshotIntervalMs?: number;
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

export class Manager {
  private readonly clock: Clock;
  private readonly log: Logger;
  private readonly table = new MembershipTable();
  private readonly election: Election;
  private readonly heartbeatMs: number;
  private readonly memberTimeoutMs: number;
  private readonly snapshotIntervalMs: number;
  private lastSeen: MembershipSnapshot | undefined;
  private published: MembershipSnapshot | undefined;
  private seq = 0;
  private timers: TimerHandle[] = [];
  private lastPeriodic = 0;
  private unsubs: Array<() => void> = [];
  private readonly refusedOnce = new Set<string>();
  private readonly transitionListeners = new Set<(t: Transition) => void>();
  /** Presence announcements refused (see {@link checkPresence}); each distinct reason is logged once. */
  readonly counters = { presenceRefused: 0 };

  constructor(private readonly opts: ManagerOptions) {
    this.clock = opts.clock ?? systemClock;
    this.log = opts.logger;
    this.heartbeatMs = opts.heartbeatMs ?? DEFAULT_HEARTBEAT_MS;
    this.memberTimeoutMs = opts.memberTimeoutMs ?? DEFAULT_MEMBER_TIMEOUT_MS;
    this.snapshotIntervalMs = opts.snapshotIntervalMs ?? DEFAULT_SNAPSHOT_INTERVAL_MS;
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

  /** The last snapshot this manager published. */
  get snapshot(): MembershipSnapshot | undefined {
    return this.published;
  }

  onTransition(listener: (t: Transition) => void): () => void {
    this.transitionListeners.add(listener);
    return () => this.transitionListeners.delete(listener);
  }

  start(): void {
    const { bus } = this.opts;
    this.unsubs.push(
      bus.subscribe("Thor.Manager", (hb) => this.apply(this.election.receive(hb, this.clock.now()))),
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
      bus.subscribe("Thor.Members", (snap) => {
        if (isNewerSnapshot(snap, this.lastSeen)) this.lastSeen = snap;
      }),
    );
    this.beat();
  }

  /** Resign (others take over at once) and stop. */
  stop(): void {
    for (const t of this.timers) this.clock.clearTimeout(t);
    this.timers = [];
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
    this.apply(this.election.tick(now));
    this.opts.bus.publish("Thor.Manager", this.election.heartbeat());
    this.changed(this.table.expire(now, this.memberTimeoutMs));
    if (this.isActive && now - this.lastPeriodic >= this.snapshotIntervalMs) this.publishSnapshot("periodic");
    this.timers = [this.clock.setTimeout(() => this.beat(), this.heartbeatMs)];
  }

  private apply(t: Transition | undefined): void {
    if (!t) return;
    this.log.info({ from: t.from, to: t.to, term: t.term, reason: t.reason }, t.to === "active" ? "became the active manager" : `manager is now ${t.to}`);
    electionChannel.publish({ from: t.from, to: t.to, term: t.term });
    for (const l of this.transitionListeners) l(t);
    if (t.to === "active") {
      this.seq = 0;
      const seeded = this.lastSeen ? this.table.seed(this.lastSeen.members, this.clock.now()) : 0;
      if (seeded > 0) this.log.info({ seeded, fromEpoch: this.lastSeen?.epoch }, "seeded membership from the last snapshot");
      this.opts.bus.publish("Thor.Manager", this.election.heartbeat());
      this.publishSnapshot("takeover");
    }
  }

  private changed(changes: Array<TableChange | undefined>): void {
    let any = false;
    for (const c of changes) {
      if (!c) continue;
      any = true;
      this.log.info({ member: c.entity.id, ip: c.entity.ip, roles: c.entity.roles }, `member ${c.kind}`);
    }
    if (any && this.isActive) this.publishSnapshot("change");
  }

  private publishSnapshot(reason: string): void {
    const snap: MembershipSnapshot = {
      epoch: this.election.term,
      seq: ++this.seq,
      manager: this.opts.id,
      at: this.clock.wallNow(),
      members: this.table.members(),
    };
    this.published = snap;
    this.lastPeriodic = this.clock.now();
    this.log.debug({ epoch: snap.epoch, seq: snap.seq, members: snap.members.length, reason }, "snapshot published");
    this.opts.bus.publish("Thor.Members", snap);
  }
}
