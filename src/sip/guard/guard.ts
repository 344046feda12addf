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

/** One refused login: when, and for which username ("" when none was given). */
interface Failure {
  at: number;
  user: string;
}

interface Bucket {
  tokens: number;
  last: number;
  failures: Failure[];
  /** Until then this bucket refills at the penalty rate (a UDP throttle, or this transport's share of a ban). */
  throttledUntil: number;
  /** The failures that caused the current throttle or ban (forgiven as their users log in). */
  cause: Failure[];
}

interface Ban {
  since: number;
  until: number;
  /** Transports whose bucket was put on the penalty rate (counted from `since`). */
  penalised: Set<Flow["transport"]>;
  cause: Failure[];
}

export class Guard {
  /** Token buckets by `transport:address`. */
  private readonly buckets = new Map<string, Bucket>();
  /** Banned addresses (proved by a connection). */
  private readonly bans = new Map<string, Ban>();
  private readonly trusted: Set<string>;
  private readonly o: Required<Omit<GuardOptions, "trusted">>;
  readonly counters = { dropped: 0, bans: 0, throttles: 0, forgiven: 0 };

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
    if (!b) this.buckets.set(key, (b = { tokens: this.o.burst, last: this.now(), failures: [], throttledUntil: 0, cause: [] }));
    return b;
  }

  /** Whether a message from `source` may be processed (one token). */
  admit(source: GuardSource): boolean {
    if (this.exempt(source)) return true;
    const now = this.now();
    const ban = this.bans.get(source.remote.address);
    if (ban !== undefined && ban.until <= now) this.bans.delete(source.remote.address);
    const banned = ban !== undefined && ban.until > now;
    const b = this.bucket(source);
    const penalised = banned || b.throttledUntil > now;
    const rate = penalised ? this.o.penaltyRate : this.o.rate;
    const burst = penalised ? Math.max(1, this.o.penaltyRate) : this.o.burst;
    if (banned && !ban.penalised.has(source.transport)) {
      // The first message on this transport since the ban: the penalty rate counts from the ban.
      ban.penalised.add(source.transport);
      b.tokens = 0;
      b.last = ban.since;
    }
    if (penalised) b.tokens = Math.min(b.tokens, burst);
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
   * Record an authentication failure (`user`: the username the request
   * tried, if any). Returns "ban" when it banned the address
   * (connection-oriented source), "throttle" when it throttled a UDP
   * source, undefined otherwise. Call it only for credentials that were
   * wrong, never for a refusal caused by the platform's own state.
   */
  authFailure(source: GuardSource, user = ""): "ban" | "throttle" | undefined {
    if (this.exempt(source)) return undefined;
    const b = this.bucket(source);
    const now = this.now();
    b.failures = b.failures.filter((f) => now - f.at < this.o.failureWindowMs);
    b.failures.push({ at: now, user: user.slice(0, 128) });
    if (b.failures.length < this.o.maxAuthFailures) return undefined;
    const cause = b.failures;
    b.failures = [];
    if (source.transport === "udp") {
      b.throttledUntil = now + this.o.banMs;
      b.cause = cause;
      b.tokens = Math.min(b.tokens, 1);
      this.counters.throttles++;
      return "throttle";
    }
    this.bans.set(source.remote.address, { since: now, until: now + this.o.banMs, cause, penalised: new Set() });
    this.counters.bans++;
    return "ban";
  }

  /**
   * `user` logged in from `source`: its failures are forgiven, and a ban or
   * throttle they caused is lifted once what is left of its cause (failures
   * of users who have not logged in) is under half the threshold.
   */
  authSuccess(source: GuardSource, user: string): void {
    if (this.exempt(source)) return;
    const key = `${source.transport}:${source.remote.address}`;
    const b = this.buckets.get(key);
    const forgive = (list: Failure[]) => list.filter((f) => f.user !== user);
    const enough = (list: Failure[]) => list.length * 2 < this.o.maxAuthFailures;
    if (b) {
      b.failures = forgive(b.failures);
      if (b.throttledUntil > this.now()) {
        b.cause = forgive(b.cause);
        if (enough(b.cause)) {
          b.throttledUntil = 0;
          b.cause = [];
          this.counters.forgiven++;
        }
      }
    }
    const ban = this.bans.get(source.remote.address);
    if (ban) {
      ban.cause = forgive(ban.cause);
      if (enough(ban.cause)) {
        this.bans.delete(source.remote.address);
        this.counters.forgiven++;
      }
    }
  }

  isBanned(address: string): boolean {
    return (this.bans.get(address)?.until ?? 0) > this.now();
  }

  isThrottled(transport: Flow["transport"], address: string): boolean {
    return (this.buckets.get(`${transport}:${address}`)?.throttledUntil ?? 0) > this.now();
  }

  /** Forget idle sources and expired bans. */
  sweep(): void {
    const now = this.now();
    for (const [k, b] of this.buckets) if (b.throttledUntil <= now && now - b.last > 60_000 && b.failures.every((f) => now - f.at >= this.o.failureWindowMs)) this.buckets.delete(k);
    for (const [a, ban] of this.bans) if (ban.until <= now) this.bans.delete(a);
  }
}

function withoutUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
