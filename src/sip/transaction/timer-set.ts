import type { Clock, TimerHandle } from "../../base/index.js";

/** The named RFC timers of one transaction; a timer of 0 ms fires on the next microtask. */
export class TimerSet<N extends string> {
  private readonly timers = new Map<N, TimerHandle>();

  constructor(private readonly clock: Clock) {}

  arm(name: N, ms: number, fn: () => void): void {
    this.cancel(name);
    if (ms <= 0) {
      queueMicrotask(fn);
      return;
    }
    this.timers.set(name, this.clock.setTimeout(fn, ms));
  }

  cancel(name: N): void {
    const t = this.timers.get(name);
    if (t) this.clock.clearTimeout(t);
    this.timers.delete(name);
  }

  clear(): void {
    for (const t of this.timers.values()) this.clock.clearTimeout(t);
    this.timers.clear();
  }
}
