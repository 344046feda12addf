/**
 * API tokens: `name:scope:secret` (scope `read` or `write`; write includes
 * read). Secrets are compared in constant time through their SHA-256.
 */
import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import { ValidationError } from "./errors.js";
import { DEFAULT_AUTH_FAILURES, DEFAULT_AUTH_FAILURE_SOURCES, DEFAULT_AUTH_FAILURE_WINDOW_MS } from "./options.js";

export type TokenScope = "read" | "write";

export interface ApiToken {
  name: string;
  scope: TokenScope;
  secret: string;
}

export function parseToken(text: string): ApiToken {
  const m = /^([A-Za-z0-9_.-]{1,64}):(read|write):([\x21-\x7e]{16,256})$/.exec(text.trim());
  if (!m) throw new ValidationError(`API token "${text.split(":")[0] ?? ""}:...": write name:read|write:secret (name: letters, digits . _ -; secret: 16-256 printable characters)`);
  return { name: m[1]!, scope: m[2] as TokenScope, secret: m[3]! };
}

export function generateSecret(): string {
  return randomBytes(24).toString("base64url");
}

const digest = (s: string) => createHash("sha256").update(s).digest();

export class TokenRing {
  private readonly tokens: Array<{ name: string; scope: TokenScope; hash: Buffer }>;

  constructor(tokens: readonly ApiToken[]) {
    this.tokens = tokens.map((t) => ({ name: t.name, scope: t.scope, hash: digest(t.secret) }));
  }

  get size(): number {
    return this.tokens.length;
  }

  /** The token with this secret, or undefined. Every token is compared, in constant time. */
  verify(secret: string): { name: string; scope: TokenScope } | undefined {
    const h = digest(secret);
    let found: { name: string; scope: TokenScope } | undefined;
    for (const t of this.tokens) if (timingSafeEqual(t.hash, h) && !found) found = { name: t.name, scope: t.scope };
    return found;
  }
}

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
