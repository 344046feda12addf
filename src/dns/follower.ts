/**
 * Keeps an {@link Authority} in step with the network: applies the active
 * manager's `Thor.Members` snapshots in `(epoch, seq)` order, as the node
 * runtime does, and ignores snapshots that no manager signed.
 */
import { systemClock, type Clock, type Logger } from "../base/index.js";
import type { EventBus, EventMeta } from "../events/index.js";
import { isNewerSnapshot, type MembershipSnapshot } from "../overlay/index.js";
import type { Authority } from "./authority.js";
import { zoneChannel } from "./diagnostics.js";
import { DEFAULT_SNAPSHOT_STALE_MS } from "./options.js";

export interface MembershipFollowerOptions {
  bus: EventBus;
  authority: Authority;
  logger: Logger;
  clock?: Clock;
  /** @default DEFAULT_SNAPSHOT_STALE_MS */
  snapshotStaleMs?: number;
  /** Called after the zones changed (e.g. to push them to a primary). */
  onChange?: (authority: Authority) => void;
}

export class MembershipFollower {
  private readonly clock: Clock;
  private snapshot: MembershipSnapshot | undefined;
  private snapshotAt = 0;
  private unsubscribe: (() => void) | undefined;

  constructor(private readonly opts: MembershipFollowerOptions) {
    this.clock = opts.clock ?? systemClock;
  }

  get current(): MembershipSnapshot | undefined {
    return this.snapshot;
  }

  start(): void {
    this.unsubscribe ??= this.opts.bus.subscribe("Thor.Members", (snap, meta) => this.onSnapshot(snap, meta));
  }

  stop(): void {
    this.unsubscribe?.();
    this.unsubscribe = undefined;
  }

  /** Apply one snapshot (public for tests that drive it without a bus). */
  onSnapshot(snap: MembershipSnapshot, meta: EventMeta): void {
    if (meta.publisher.subject["OU"] !== "manager") {
      this.opts.logger.warn({ publisher: meta.publisher.subject["CN"] }, "snapshot not published by a manager, ignored");
      return;
    }
    const now = this.clock.now();
    const stale = this.snapshot !== undefined && now - this.snapshotAt > (this.opts.snapshotStaleMs ?? DEFAULT_SNAPSHOT_STALE_MS);
    if (!isNewerSnapshot(snap, this.snapshot) && !stale) return;
    this.snapshot = snap;
    this.snapshotAt = now;
    const { authority } = this.opts;
    if (!authority.apply(snap.members, snap.at / 1000)) return;
    const records = authority.zones().reduce((n, z) => n + z.recordCount(), 0);
    this.opts.logger.info({ epoch: snap.epoch, seq: snap.seq, members: snap.members.length, serial: authority.serial, records }, "zones updated");
    zoneChannel.publish({ serial: authority.serial, members: snap.members.length, records });
    this.opts.onChange?.(authority);
  }
}
