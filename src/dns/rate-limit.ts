/**
 * Response rate limiting for UDP (sans-IO, clock injected), against the use
 * of an authoritative server as a reflection amplifier: each client prefix
 * (/24 for IPv4, /56 for IPv6) gets `rate` responses per second with a burst
 * of one second's worth. Over the limit, every `slip`-th response is sent
 * empty with TC set (a real client retries over TCP, which cannot be
 * spoofed) and the others are dropped, as BIND and Knot do. `thor dns` runs
 * it by default (`DEFAULT_RATE_LIMIT` responses/s, `rate_limit = 0` turns it off).
 */
import { isIPv6 } from "node:net";
import { systemClock, type Clock } from "../base/index.js";
import { DEFAULT_RATE_LIMIT_SLIP } from "./options.js";

export type RateDecision = "send" | "slip" | "drop";

export interface RateLimiterOptions {
  /** Responses per second per client prefix. */
  rate: number;
  /** Every n-th limited response is a TC answer; 0: none. @default DEFAULT_RATE_LIMIT_SLIP */
  slip?: number;
  /** Prefixes tracked at most (oldest forgotten first). @default 100000 */
  maxPrefixes?: number;
  clock?: Clock;
}

interface Bucket {
  tokens: number;
  at: number;
  limited: number;
}

export class RateLimiter {
  private readonly clock: Clock;
  private readonly buckets = new Map<string, Bucket>();

  constructor(private readonly opts: RateLimiterOptions) {
    this.clock = opts.clock ?? systemClock;
  }

  /** The prefix an address is counted under. */
  static prefix(address: string): string {
    if (isIPv6(address)) {
      const mapped = /^::ffff:(\d+\.\d+\.\d+)\.\d+$/i.exec(address);
      if (mapped) return `${mapped[1]}.0/24`;
      const groups = expand(address);
      return `${groups.slice(0, 3).join(":")}:${groups[3]!.slice(0, 2)}00::/56`;
    }
    return `${address.slice(0, address.lastIndexOf("."))}.0/24`;
  }

  decide(address: string): RateDecision {
    const key = RateLimiter.prefix(address);
    const now = this.clock.now();
    let b = this.buckets.get(key);
    if (!b) {
      if (this.buckets.size >= (this.opts.maxPrefixes ?? 100_000)) {
        const oldest = this.buckets.keys().next().value;
        if (oldest !== undefined) this.buckets.delete(oldest);
      }
      b = { tokens: this.opts.rate, at: now, limited: 0 };
      this.buckets.set(key, b);
    }
    b.tokens = Math.min(this.opts.rate, b.tokens + ((now - b.at) / 1000) * this.opts.rate);
    b.at = now;
    if (b.tokens >= 1) {
      b.tokens -= 1;
      return "send";
    }
    b.limited++;
    const slip = this.opts.slip ?? DEFAULT_RATE_LIMIT_SLIP;
    return slip > 0 && b.limited % slip === 0 ? "slip" : "drop";
  }
}

function expand(address: string): string[] {
  const [head, tail] = address.split("::") as [string, string | undefined];
  const h = head ? head.split(":") : [];
  const t = tail ? tail.split(":") : [];
  const fill = tail === undefined ? [] : Array.from({ length: 8 - h.length - t.length }, () => "0");
  return [...h, ...fill, ...t].map((g) => g.padStart(4, "0").toLowerCase());
}
