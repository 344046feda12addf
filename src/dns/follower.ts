/**
 * Keeps an {@link Authority} in step with the network: takes the active
 * manager's `Thor.Members` snapshots through the one membership feed
 * (overlay/membership-feed.ts: manager certificate, `(epoch, seq)` order,
 * staleness) and rebuilds the zones from each accepted one.
 */
import type { Clock, Logger } from "../base/index.js";
import type { EventBus } from "../events/index.js";
import { MembershipFeed, type MembershipSnapshot, type MembershipUpdate } from "../overlay/index.js";
import type { Authority } from "./authority.js";
import { zoneChannel } from "./diagnostics.js";

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
  readonly feed: MembershipFeed;
  private offs: Array<() => void> = [];

  constructor(private readonly opts: MembershipFollowerOptions) {
    this.feed = new MembershipFeed({ logger: opts.logger, ...(opts.clock ? { clock: opts.clock } : {}), ...(opts.snapshotStaleMs !== undefined ? { staleMs: opts.snapshotStaleMs } : {}) });
  }

  get current(): MembershipSnapshot | undefined {
    return this.feed.current;
  }

  start(): void {
    if (this.offs.length > 0) return;
    this.offs.push(this.feed.subscribe((u) => this.apply(u)), this.feed.follow(this.opts.bus));
  }

  stop(): void {
    for (const off of this.offs) off();
    this.offs = [];
  }

  private apply({ snapshot: snap }: MembershipUpdate): void {
    const { authority } = this.opts;
    if (!authority.apply(snap.members, snap.at / 1000)) return;
    const records = authority.zones().reduce((n, z) => n + z.recordCount(), 0);
    this.opts.logger.info({ epoch: snap.epoch, seq: snap.seq, members: snap.members.length, serial: authority.serial, records }, "zones updated");
    zoneChannel.publish({ serial: authority.serial, members: snap.members.length, records });
    this.opts.onChange?.(authority);
  }
}
