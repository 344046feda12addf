/**
 * Throttling of failed credential checks per source address (sans-IO),
 * shared by the HTTP surfaces that take tokens (provisioning API, web
 * dashboard).
 */
/** Failed token checks from one source address within {@link DEFAULT_AUTH_FAILURE_WINDOW_MS} before it is throttled. @default 10 */
export const DEFAULT_AUTH_FAILURES = 10;
/** Window of the failure count, and how long a throttled source gets 429. @default 60000 */
export const DEFAULT_AUTH_FAILURE_WINDOW_MS = 60_000;
/** Source addresses whose failures are remembered at most (oldest forgotten first). @default 10000 */
export const DEFAULT_AUTH_FAILURE_SOURCES = 10_000;

export interface FailureThrottleOptions {
  /** @default DEFAULT_AUTH_FAILURES */
  failures?: number;
  /** @default DEFAULT_AUTH_FAILURE_WINDOW_MS */
  windowMs?: number;
  /** @default DEFAULT_AUTH_FAILURE_SOURCES */
  maxSources?: number;
  /** Monotonic milliseconds. @default performance.now */
  now?: () => number;
}

/**
 * Throttles token guessing, per source address (sans-IO): after `failures`
 * failed token checks within `windowMs`, the source is refused (429) until
 * the window of its last failure has passed. Memory is bounded by
 * `maxSources` (the oldest source is forgotten first).
 */
export class FailureThrottle {
  private readonly sources = new Map<string, { count: number; since: number; until: number }>();
  private readonly failures: number;
  private readonly windowMs: number;
  private readonly maxSources: number;
  private readonly now: () => number;

  constructor(opts: FailureThrottleOptions = {}) {
    this.failures = opts.failures ?? DEFAULT_AUTH_FAILURES;
    this.windowMs = opts.windowMs ?? DEFAULT_AUTH_FAILURE_WINDOW_MS;
    this.maxSources = opts.maxSources ?? DEFAULT_AUTH_FAILURE_SOURCES;
    this.now = opts.now ?? (() => performance.now());
  }

  /** Seconds the source must wait, or 0 when it may try. */
  blockedFor(source: string): number {
    const s = this.sources.get(source);
    if (!s) return 0;
    const left = s.until - this.now();
    return left > 0 ? Math.ceil(left / 1000) : 0;
  }

  /** Count a failed token check of `source`. */
  fail(source: string): void {
    const now = this.now();
    let s = this.sources.get(source);
    if (!s || now - s.since > this.windowMs) {
      this.sources.delete(source);
      if (this.sources.size >= this.maxSources) {
        const oldest = this.sources.keys().next().value;
        if (oldest !== undefined) this.sources.delete(oldest);
      }
      s = { count: 0, since: now, until: 0 };
      this.sources.set(source, s);
    }
    s.count++;
    if (s.count >= this.failures) s.until = now + this.windowMs;
  }

  /** A good token from `source` clears its count. */
  succeed(source: string): void {
    this.sources.delete(source);
  }
}
