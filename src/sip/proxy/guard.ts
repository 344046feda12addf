/**
 * Anti-abuse basics, cheap enough to run before any parsing of semantics:
 * a token bucket of requests per source address (floods are dropped
 * silently), and a ban after repeated authentication failures
 * (brute force). Banned sources are ignored until the ban expires.
 */
export interface GuardOptions {
  /** Sustained requests per second per source. @default 200 */
  rate?: number;
  /** Burst size. @default 400 */
  burst?: number;
  /** Authentication failures within `failureWindowMs` that ban a source. @default 20 */
  maxAuthFailures?: number;
  /** @default 60 s */
  failureWindowMs?: number;
  /** @default 300 s */
  banMs?: number;
  /** Sources never limited (e.g. other nodes). */
  trusted?: string[];
}

interface Source {
  tokens: number;
  last: number;
  failures: number[];
  bannedUntil: number;
}

export class Guard {
  private readonly sources = new Map<string, Source>();
  private readonly trusted: Set<string>;
  readonly counters = { dropped: 0, bans: 0 };

  constructor(
    private readonly opts: GuardOptions,
    private readonly now: () => number,
  ) {
    this.trusted = new Set(opts.trusted ?? []);
  }

  private source(address: string): Source {
    let s = this.sources.get(address);
    if (!s) this.sources.set(address, (s = { tokens: this.opts.burst ?? 400, last: this.now(), failures: [], bannedUntil: 0 }));
    return s;
  }

  /** Whether a request from `address` may be processed. */
  admit(address: string): boolean {
    if (this.trusted.has(address)) return true;
    const s = this.source(address);
    const now = this.now();
    if (s.bannedUntil > now) {
      this.counters.dropped++;
      return false;
    }
    const rate = this.opts.rate ?? 200;
    s.tokens = Math.min(this.opts.burst ?? 400, s.tokens + ((now - s.last) / 1000) * rate);
    s.last = now;
    if (s.tokens < 1) {
      this.counters.dropped++;
      return false;
    }
    s.tokens -= 1;
    return true;
  }

  /** Record an authentication failure; returns true when it bans the source. */
  authFailure(address: string): boolean {
    if (this.trusted.has(address)) return false;
    const s = this.source(address);
    const now = this.now();
    const window = this.opts.failureWindowMs ?? 60_000;
    s.failures = s.failures.filter((t) => now - t < window);
    s.failures.push(now);
    if (s.failures.length >= (this.opts.maxAuthFailures ?? 20)) {
      s.bannedUntil = now + (this.opts.banMs ?? 300_000);
      s.failures = [];
      this.counters.bans++;
      return true;
    }
    return false;
  }

  isBanned(address: string): boolean {
    return (this.sources.get(address)?.bannedUntil ?? 0) > this.now();
  }

  /** Forget idle, unbanned sources. */
  sweep(): void {
    const now = this.now();
    for (const [a, s] of this.sources) if (s.bannedUntil <= now && now - s.last > 60_000 && s.failures.length === 0) this.sources.delete(a);
  }
}
