/**
 * Follows the database's change log on a node, so a committed change
 * reaches it even when the event bus is down or dropped the notice: every
 * `pollMs` it reads the changes after its low-water mark and applies those
 * it has not applied yet (a notice that arrived on the bus counts as
 * applied). The mark trails the newest change by `settleMs`, so a change
 * that commits after a higher-numbered one (PostgreSQL hands out numbers
 * before commit) is still read. Applying twice is harmless: it re-reads
 * the accounts.
 */
import { describeError, type Clock, type Logger, type TimerHandle } from "../base/index.js";
import type { ChangeRow } from "../db/index.js";

export interface ChangeFollowerOptions {
  clock: Clock;
  logger: Logger;
  /** The changes after `afterSeq`, oldest first, at most `limit`. */
  read(afterSeq: number, limit: number): Promise<ChangeRow[]>;
  /** Apply one change (refresh its accounts and domains). */
  apply(change: ChangeRow): Promise<void>;
  /** Nothing could be read for longer than the log is kept: reload everything. */
  reload(why: string): void;
  /** @default DEFAULT_CHANGE_POLL_MS */
  pollMs?: number;
  /** @default 10 s */
  settleMs?: number;
  /** How long the database keeps changes; half of it without a read means a reload. */
  retentionMs: number;
}

/** How often a node reads the change log. @default 2 s */
export const DEFAULT_CHANGE_POLL_MS = 2000;
/** Changes read per poll. */
const BATCH = 500;
/** Changes told on the bus remembered at most (past it, the log applies them again: harmless). */
const MAX_REMEMBERED = 10_000;

export class ChangeFollower {
  private low = -1;
  /** seq → when it was applied, for changes above the low-water mark. */
  private readonly applied = new Map<number, number>();
  private timer: TimerHandle | undefined;
  private lastRead = 0;
  private running = false;
  private stopped = false;
  readonly counters = { polls: 0, applied: 0, failures: 0 };

  constructor(private readonly opts: ChangeFollowerOptions) {}

  /** The accounts were (re)loaded and include every change up to `seq`. */
  loadedUpTo(seq: number): void {
    this.low = Math.max(this.low, seq);
    for (const s of this.applied.keys()) if (s <= this.low) this.applied.delete(s);
    this.lastRead = this.opts.clock.now();
    this.schedule();
  }

  /** A change the node was told of on the bus (and applied). */
  notified(seq: number): void {
    // Before the first load nothing is followed (the load includes it): nothing to remember.
    if (this.low >= 0 && seq > this.low && this.applied.size < MAX_REMEMBERED) this.applied.set(seq, this.opts.clock.now());
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) this.opts.clock.clearTimeout(this.timer);
  }

  /** One poll (also run by the timer). */
  async poll(): Promise<void> {
    if (this.low < 0 || this.running) return;
    this.running = true;
    const now = this.opts.clock.now();
    try {
      for (;;) {
        const rows = await this.opts.read(this.low, BATCH);
        this.counters.polls++;
        this.lastRead = this.opts.clock.now();
        let fresh = 0;
        for (const row of rows) {
          if (this.applied.has(row.seq)) continue;
          await this.opts.apply(row);
          this.applied.set(row.seq, now);
          this.counters.applied++;
          fresh++;
        }
        if (fresh > 0) this.opts.logger.info({ changes: fresh, upTo: rows[rows.length - 1]!.seq }, "changes read from the change log");
        this.settle(now);
        if (rows.length < BATCH || this.low >= rows[rows.length - 1]!.seq) break;
      }
    } catch (err) {
      this.counters.failures++;
      this.opts.logger.debug({ err: describeError(err) }, "could not read the change log");
      if (now - this.lastRead > this.opts.retentionMs / 2) {
        this.low = -1;
        this.opts.reload("the change log could not be read for longer than half its retention");
      }
    } finally {
      this.running = false;
    }
  }

  /** Move the low-water mark up to the newest change applied at least `settleMs` ago with nothing newer pending below it. */
  private settle(now: number): void {
    const settle = this.opts.settleMs ?? 10_000;
    const seqs = [...this.applied.keys()].sort((a, b) => a - b);
    for (const s of seqs) {
      if (now - this.applied.get(s)! < settle) break;
      this.low = s;
      this.applied.delete(s);
    }
  }

  private schedule(): void {
    if (this.stopped || this.timer) return;
    const tick = () => {
      this.timer = undefined;
      if (this.stopped) return;
      void this.poll().finally(() => {
        if (!this.stopped && !this.timer) this.timer = this.opts.clock.setTimeout(tick, this.opts.pollMs ?? DEFAULT_CHANGE_POLL_MS);
      });
    };
    this.timer = this.opts.clock.setTimeout(tick, this.opts.pollMs ?? DEFAULT_CHANGE_POLL_MS);
  }
}
