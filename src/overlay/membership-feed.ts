/**
 * The one place where a member decides whether to take a `Thor.Members`
 * snapshot, and what changed when it does. The node runtime, `thor dns`, the
 * monitor and the provisioning role all follow membership through it.
 *
 * Acceptance rules (docs/manager.md):
 * - only a snapshot published under a certificate with `OU=manager` counts;
 * - snapshots are totally ordered by `(epoch, seq)`: an older or equal one is
 *   ignored ({@link isNewerSnapshot});
 * - staleness: once nothing newer came for `staleMs`, any manager snapshot is
 *   taken (every manager restarted and terms began anew).
 *
 * Every accepted snapshot is published to listeners as a
 * {@link MembershipUpdate} carrying a discriminated union of changes (joined,
 * left, changed, term). The changes are computed here from full tables;
 * when snapshots become deltas (issue 16) the feed applies them and
 * publishes the same union, so consumers do not change.
 *
 * Pure: no sockets, no bus. A consumer wires it to the bus with
 * {@link MembershipFeed.follow}.
 */
import { systemClock, type Clock, type Logger } from "../base/index.js";
import { sameEntity, type Entity } from "./entity.js";
import { RoleMap } from "./role-map.js";
import { isNewerSnapshot, type MembershipSnapshot } from "./snapshot.js";
import { membershipChannel } from "./diagnostics.js";
import { DEFAULT_SNAPSHOT_STALE_MS } from "./options.js";

/** One change between two applied snapshots. */
export type MembershipChange =
  | { readonly type: "joined"; readonly member: Entity }
  | { readonly type: "left"; readonly member: Entity }
  /** Same id, other state: restarted, draining or not, other roles, ports or attributes. */
  | { readonly type: "changed"; readonly member: Entity; readonly previous: Entity }
  /** A new manager term (a takeover, or a restarted manager cluster). */
  | { readonly type: "term"; readonly epoch: number; readonly manager: string };

/** What an accepted snapshot changed. */
export interface MembershipUpdate {
  readonly snapshot: MembershipSnapshot;
  readonly previous: MembershipSnapshot | undefined;
  /** The rings of the new membership (the same object as before when no member changed). */
  readonly map: RoleMap;
  /** Empty when the snapshot only repeats the membership (a periodic re-send). */
  readonly changes: readonly MembershipChange[];
}

/** Why a snapshot was not taken. */
export type MembershipRefusal = "not-a-manager" | "not-newer";

export type MembershipVerdict = { readonly type: "applied"; readonly update: MembershipUpdate } | { readonly type: "ignored"; readonly reason: MembershipRefusal };

/** The part of the publisher's identity the feed checks (the event server stamps it from the TLS certificate). */
export interface SnapshotPublisher {
  readonly subject: Readonly<Record<string, string>>;
}

/** Anything that delivers `Thor.Members` events with their publisher, e.g. an `EventBus`. */
export interface MembershipSource {
  subscribe(topic: "Thor.Members", handler: (snapshot: MembershipSnapshot, meta: { readonly publisher: SnapshotPublisher }) => void): () => void;
}

export interface MembershipFeedOptions {
  clock?: Clock;
  /** Logs refused snapshots (at warn) and applied changes (at info). */
  logger?: Logger;
  /** @default DEFAULT_SNAPSHOT_STALE_MS */
  staleMs?: number;
  /** Ring options of the role map built from each membership. */
  multiply?: number;
}

export type MembershipListener = (update: MembershipUpdate) => void;

export class MembershipFeed {
  private readonly clock: Clock;
  private snapshot: MembershipSnapshot | undefined;
  private map: RoleMap | undefined;
  private appliedAt = 0;
  private readonly listeners = new Set<MembershipListener>();

  constructor(private readonly opts: MembershipFeedOptions = {}) {
    this.clock = opts.clock ?? systemClock;
  }

  /** The last accepted snapshot. */
  get current(): MembershipSnapshot | undefined {
    return this.snapshot;
  }

  /** The rings of the last accepted snapshot. */
  get roleMap(): RoleMap | undefined {
    return this.map;
  }

  /** Monotonic time (clock.now) the last snapshot was accepted, 0 before. */
  get lastAppliedAt(): number {
    return this.appliedAt;
  }

  /** Listen to every accepted snapshot; returns an unsubscribe function. */
  subscribe(listener: MembershipListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Offer every `Thor.Members` event of `source` to the feed; returns an unsubscribe function. */
  follow(source: MembershipSource): () => void {
    return source.subscribe("Thor.Members", (snap, meta) => {
      this.offer(snap, meta.publisher);
    });
  }

  /** Decide on one snapshot; listeners hear of it before this returns. */
  offer(snap: MembershipSnapshot, publisher: SnapshotPublisher): MembershipVerdict {
    if (publisher.subject["OU"] !== "manager") {
      this.opts.logger?.warn({ publisher: publisher.subject["CN"] }, "snapshot not published by a manager, ignored");
      membershipChannel.publish({ verdict: "not-a-manager", members: snap.members.length, changes: 0 });
      return { type: "ignored", reason: "not-a-manager" };
    }
    const now = this.clock.now();
    const stale = this.snapshot !== undefined && now - this.appliedAt > (this.opts.staleMs ?? DEFAULT_SNAPSHOT_STALE_MS);
    if (!isNewerSnapshot(snap, this.snapshot) && !stale) {
      membershipChannel.publish({ verdict: "not-newer", members: snap.members.length, changes: 0 });
      return { type: "ignored", reason: "not-newer" };
    }
    const previous = this.snapshot;
    const changes = diffMembership(previous, snap);
    this.snapshot = snap;
    this.appliedAt = now;
    if (!this.map || changes.some((c) => c.type !== "term")) this.map = RoleMap.fromMembers(snap.members, this.opts.multiply ? { multiply: this.opts.multiply } : {});
    const update: MembershipUpdate = { snapshot: snap, previous, map: this.map, changes };
    if (changes.length > 0) this.opts.logger?.info({ epoch: snap.epoch, seq: snap.seq, manager: snap.manager, members: snap.members.length, changes: changes.length }, "membership applied");
    membershipChannel.publish({ verdict: "applied", members: snap.members.length, changes: changes.length });
    for (const l of this.listeners) l(update);
    return { type: "applied", update };
  }
}

/** The changes that turn `before` into `after` (a term change first, then members by id). */
export function diffMembership(before: MembershipSnapshot | undefined, after: MembershipSnapshot): MembershipChange[] {
  const changes: MembershipChange[] = [];
  if (!before || before.epoch !== after.epoch) changes.push({ type: "term", epoch: after.epoch, manager: after.manager });
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
