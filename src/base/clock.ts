/**
 * Injectable time source. Protocol state machines and membership logic take a
 * `Clock` instead of calling `Date.now()`/`setTimeout` so tests can drive
 * timers without waiting (see {@link ManualClock}).
 */
export interface TimerHandle {
  readonly id: number;
}

export interface Clock {
  /** Monotonic milliseconds (arbitrary origin); use for durations and expiry. */
  now(): number;
  /** Wall-clock milliseconds since the epoch; use only for display and records. */
  wallNow(): number;
  setTimeout(fn: () => void, ms: number): TimerHandle;
  clearTimeout(handle: TimerHandle | undefined): void;
}

let nextId = 1;

/** A handle of the real clock: the Node timer itself (no table of live timers to keep). */
class SystemTimer implements TimerHandle {
  constructor(
    readonly id: number,
    readonly timeout: NodeJS.Timeout,
  ) {}
}

/** The real clock: `performance.now()` and Node timers (unref'd). */
export class SystemClock implements Clock {
  now(): number {
    return performance.now();
  }

  wallNow(): number {
    return Date.now();
  }

  setTimeout(fn: () => void, ms: number): TimerHandle {
    const t = setTimeout(fn, Math.max(0, ms));
    t.unref();
    return new SystemTimer(nextId++, t);
  }

  clearTimeout(handle: TimerHandle | undefined): void {
    if (handle instanceof SystemTimer) clearTimeout(handle.timeout);
  }
}

export const systemClock: Clock = new SystemClock();

interface ManualTimer {
  id: number;
  at: number;
  fn: () => void;
}

/**
 * A clock that moves only when told to. `advance(ms)` fires due timers in
 * deadline order (ties in creation order), including timers scheduled by the
 * callbacks themselves while inside the advanced window.
 */
export class ManualClock implements Clock {
  private current: number;
  private wallOrigin: number;
  private pending: ManualTimer[] = [];

  constructor(start = 0, wallOrigin = 1_700_000_000_000) {
    this.current = start;
    this.wallOrigin = wallOrigin - start;
  }

  now(): number {
    return this.current;
  }

  wallNow(): number {
    return this.wallOrigin + this.current;
  }

  setTimeout(fn: () => void, ms: number): TimerHandle {
    const id = nextId++;
    this.pending.push({ id, at: this.current + Math.max(0, ms), fn });
    return { id };
  }

  clearTimeout(handle: TimerHandle | undefined): void {
    if (!handle) return;
    this.pending = this.pending.filter((t) => t.id !== handle.id);
  }

  /** Number of timers not yet fired. */
  get pendingCount(): number {
    return this.pending.length;
  }

  advance(ms: number): void {
    const target = this.current + ms;
    for (;;) {
      let best: ManualTimer | undefined;
      for (const t of this.pending) {
        if (t.at <= target && (!best || t.at < best.at || (t.at === best.at && t.id < best.id))) best = t;
      }
      if (!best) break;
      this.pending = this.pending.filter((t) => t !== best);
      this.current = best.at;
      best.fn();
    }
    this.current = target;
  }
}
