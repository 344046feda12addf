/**
 * What is left of a server transaction that only absorbs retransmissions
 * (non-INVITE Completed for Timer J, INVITE Confirmed for Timer I): its key
 * and its last response, resent to each retransmission's own Via. The full
 * transaction object, its timers, flow and closures are gone by then.
 *
 * Why: a REGISTER is two transactions that linger 32 s each over UDP, so at
 * 5,000 REGISTERs/s 320,000 of them wait for retransmissions that almost
 * never come. As whole transactions they took about 1.4 kB of heap each
 * besides the response bytes (and every minor GC copied them); as a record
 * they take the key, a Map slot and a queue slot.
 *
 * Expiry: every record of one duration expires in the order it was added,
 * so each duration is a FIFO queue with a single timer (no timer per
 * transaction).
 */
import type { Clock, TimerHandle } from "../../base/index.js";

/**
 * A lingering transaction: the response resent to a retransmitted request
 * (its bytes as a latin1 string: on the heap, without a Buffer object or a
 * slice that pins a slab of Node's shared buffer pool), or `null` when
 * retransmissions are only absorbed.
 */
export type LingeringRecord = { readonly lingering: string | null };

/** Records keyed like the transactions they replace, each dropped after its duration. */
export class LingeringTable {
  private readonly queues = new Map<number, ExpiryQueue>();

  constructor(
    private readonly clock: Clock,
    /** The record's time is up: the layer forgets the key (if it still maps to `record`). */
    private readonly expire: (key: string, record: LingeringRecord) => void,
  ) {}

  /** Keep `record` under `key` for `ms` (the caller stores it in its own map). */
  add(key: string, record: LingeringRecord, ms: number): void {
    let q = this.queues.get(ms);
    if (!q) this.queues.set(ms, (q = new ExpiryQueue(this.clock, ms, this.expire)));
    q.push(key, record);
  }

  get size(): number {
    let n = 0;
    for (const q of this.queues.values()) n += q.length;
    return n;
  }
}

/** Keys that all live `ms`: pushed in time order, so they expire from the head. */
class ExpiryQueue {
  private keys: string[] = [];
  private records: LingeringRecord[] = [];
  private times: number[] = [];
  private head = 0;
  private timer: TimerHandle | undefined;

  constructor(
    private readonly clock: Clock,
    private readonly ms: number,
    private readonly expire: (key: string, record: LingeringRecord) => void,
  ) {}

  get length(): number {
    return this.keys.length - this.head;
  }

  push(key: string, record: LingeringRecord): void {
    this.keys.push(key);
    this.records.push(record);
    this.times.push(this.clock.now() + this.ms);
    if (!this.timer) this.arm();
  }

  private arm(): void {
    const at = this.times[this.head];
    if (at === undefined) return;
    this.timer = this.clock.setTimeout(() => this.run(), at - this.clock.now());
  }

  private run(): void {
    this.timer = undefined;
    // One wake-up takes everything due within the next 20 ms too (a little early is harmless here).
    const until = this.clock.now() + 20;
    while (this.head < this.keys.length && this.times[this.head]! <= until) {
      this.expire(this.keys[this.head]!, this.records[this.head]!);
      this.head++;
    }
    if (this.head === this.keys.length) {
      this.keys = [];
      this.records = [];
      this.times = [];
      this.head = 0;
    } else if (this.head > 4096 && this.head * 2 > this.keys.length) {
      // Drop the consumed head so the arrays do not grow for ever under steady load.
      this.keys = this.keys.slice(this.head);
      this.records = this.records.slice(this.head);
      this.times = this.times.slice(this.head);
      this.head = 0;
    }
    this.arm();
  }
}
