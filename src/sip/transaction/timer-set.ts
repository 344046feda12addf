import type { Clock, TimerHandle } from "../../base/index.js";

/** The named RFC timers of one transaction; a timer of 0 ms fires on the next microtask. */
export class TimerSet<N extends string> {
  // A plain record, not a Map: a transaction has two or three named timers and lingers
  // 5–32 s after its final response, and a Map with its table costs ~250 bytes each.
  private readonly timers: Partial<Record<N, TimerHandle>> = {};

  constructor(private readonly clock: Clock) {}

  arm(name: N, ms: number, fn: () => void): void {
    this.cancel(name);
    if (ms <= 0) {
      queueMicrotask(fn);
      return;
    }
    this.timers[name] = this.clock.setTimeout(fn, ms);
  }

  cancel(name: N): void {
    const t = this.timers[name];
    if (t === undefined) return;
    this.clock.clearTimeout(t);
    this.timers[name] = undefined;
  }

  clear(): void {
    for (const name in this.timers) this.cancel(name);
  }
}
