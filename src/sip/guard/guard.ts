/**
 * Anti-abuse basics, cheap enough to run before a message is parsed: a
 * token bucket per source (every message counts: requests, responses and
 * malformed ones; floods are dropped silently), and penalties after
 * repeated authentication failures (brute force).
 *
 * A source is the pair (transport, IP address): a UDP source address is
 * trivially spoofed, so what arrives over UDP never shares a bucket with
 * what arrives over TCP, TLS or WebSocket from the same address, and
 * never costs that address more than its UDP bucket:
 * - authentication failures over a connection-oriented transport (the
 *   handshake proved the source address) ban the address on every public
 *   transport for `banMs`;
 * - authentication failures over UDP only throttle the UDP bucket of that
 *   address (`penaltyRate` messages per second for `banMs`), so spoofed
 *   datagrams can slow a victim's UDP traffic but never ban it;
 * - flows from other members (mutual TLS on the internal listener, `peer`
 *   set) are never limited, whatever their address.
 */
import type { Flow } from "../transport/index.js";

export interface GuardOptions {
  /** Sustained messages per second per source. @default 200 */
  rate?: number;
  /** Burst size. @default 400 */
  burst?: number;
  /** Authentication failures within `failureWindowMs` that ban (or, over UDP, throttle) a source. @default 20 */
  maxAuthFailures?: number;
  /** @default 60 s */
  failureWindowMs?: number;
  /** How long a ban or a UDP throttle lasts. @default 300 s */
  banMs?: number;
  /** Messages per second a throttled UDP source keeps. @default 1 */
  penaltyRate?: number;
  /** Addresses never limited. */
  trusted?: string[];
}

export const DEFAULT_GUARD = Object.freeze({ rate: 200, burst: 400, maxAuthFailures: 20, failureWindowMs: 60_000, banMs: 300_000, penaltyRate: 1 });

/** What the guard needs to know of where a message came from. */
export type GuardSource = Pick<Flow, "transport" | "remote" | "peer">;

interface Bucket {
  tokens: number;
  last: number;
  failures: number[];
  /** Until then this (UDP) bucket refills at the penalty rate. */
  throttledUntil: number;
}

export class Guard {
  /** Token buckets by `transport:address`. */
  private readonly buckets = new Map<string, Bucket>();
  /** Banned addresses (proved by a connection) → until. */
  private readonly bans = new Map<string, number>();
  private readonly trusted: Set<string>;
  private readonly o: Required<Omit<GuardOptions, "trusted">>;
  readonly counters = { dropped: 0, bans: 0, throttles: 0 };

  constructor(
    opts: GuardOptions,
    private readonly now: () => number,
  ) {
    this.o = { ...DEFAULT_GUARD, ...withoutUndefined(opts) };
    this.trusted = new Set(opts.trusted ?? []);
  }

  private exempt(source: GuardSource): boolean {
    return source.peer !== undefined || this.trusted.has(source.remote.address);
  }

  private bucket(source: GuardSource): Bucket {
    const key = `${source.transport}:${source.remote.address}`;
    let b = this.buckets.get(key);
    if (!b) this.buckets.set(key, (b = { tokens: this.o.burst, last: this.now(), failures: [], throttledUntil: 0 }));
    return b;
  }

  /** Whether a message from `source` may be processed (one token). */
  admit(source: GuardSource): boolean {
    if (this.exempt(source)) return true;
    const now = this.now();
    const ban = this.bans.get(source.remote.address);
    if (ban !== undefined) {
      if (ban > now) {
        this.counters.dropped++;
        return false;
      }
      this.bans.delete(source.remote.address);
    }
    const b = this.bucket(source);
    const throttled = b.throttledUntil > now;
    const rate = throttled ? this.o.penaltyRate : this.o.rate;
    const burst = throttled ? Math.max(1, this.o.penaltyRate) : this.o.burst;
    b.tokens = Math.min(burst, b.tokens + ((now - b.last) / 1000) * rate);
    b.last = now;
    if (b.tokens < 1) {
      this.counters.dropped++;
      return false;
    }
    b.tokens -= 1;
    return true;
  }

  /**
   * Record an authentication failure. Returns "ban" when it banned the
   * address (connection-oriented source), "throttle" when it throttled a
   * UDP source, undefined otherwise.
   */
  authFailure(source: GuardSource): "ban" | "throttle" | undefined {
    if (this.exempt(source)) return undefined;
    const b = this.bucket(source);
    const now = this.now();
    b.failures = b.failures.filter((t) => now - t < this.o.failureWindowMs);
    b.failures.push(now);
    if (b.failures.length < this.o.maxAuthFailures) return undefined;
    b.failures = [];
    if (source.transport === "udp") {
      b.throttledUntil = now + this.o.banMs;
      b.tokens = Math.min(b.tokens, 1);
      this.counters.throttles++;
      return "throttle";
    }
    this.bans.set(source.remote.address, now + this.o.banMs);
    this.counters.bans++;
    return "ban";
  }

  isBanned(address: string): boolean {
    return (this.bans.get(address) ?? 0) > this.now();
  }

  isThrottled(transport: Flow["transport"], address: string): boolean {
    return (this.buckets.get(`${transport}:${address}`)?.throttledUntil ?? 0) > this.now();
  }

  /** Forget idle sources and expired bans. */
  sweep(): void {
    const now = this.now();
    for (const [k, b] of this.buckets) if (b.throttledUntil <= now && now - b.last > 60_000 && b.failures.every((t) => now - t >= this.o.failureWindowMs)) this.buckets.delete(k);
    for (const [a, until] of this.bans) if (until <= now) this.bans.delete(a);
  }
}

function withoutUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
