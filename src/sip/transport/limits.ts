/**
 * Resource limits of the transport layer: how many connections it accepts
 * (in total and per remote address), how long a message may take to
 * arrive once it has begun, how long a connection may stay silent; and a
 * record of what handling each message cost (to prove no single message
 * stalls the event loop).
 */

export interface ConnectionLimits {
  /** Accepted TCP/TLS/WS connections in total. @default 4096 */
  maxConnections: number;
  /** Accepted connections from one IP address. @default 64 */
  maxConnectionsPerIp: number;
  /**
   * A connection must deliver its first message, and every message once
   * its first byte has arrived, within this time; a TLS or WebSocket
   * handshake too. @default 5 s
   */
  headerTimeoutMs: number;
  /** A connection silent this long is closed (CRLF keepalives count). @default 600 s */
  idleMs: number;
}

export const DEFAULT_CONNECTION_LIMITS: Readonly<ConnectionLimits> = Object.freeze({
  maxConnections: 4096,
  maxConnectionsPerIp: 64,
  headerTimeoutMs: 5_000,
  idleMs: 600_000,
});

/** Counts accepted connections, in total and per address. */
export class ConnectionCounter {
  private total = 0;
  private readonly perIp = new Map<string, number>();

  constructor(private readonly limits: Pick<ConnectionLimits, "maxConnections" | "maxConnectionsPerIp">) {}

  get size(): number {
    return this.total;
  }

  /** Take a slot for `ip`; the reason when a cap is reached. */
  acquire(ip: string): string | undefined {
    if (this.total >= this.limits.maxConnections) return `connection limit of ${this.limits.maxConnections} reached`;
    const n = this.perIp.get(ip) ?? 0;
    if (n >= this.limits.maxConnectionsPerIp) return `limit of ${this.limits.maxConnectionsPerIp} connections per address reached`;
    this.perIp.set(ip, n + 1);
    this.total++;
    return undefined;
  }

  release(ip: string): void {
    const n = this.perIp.get(ip);
    if (n === undefined) return;
    if (n <= 1) this.perIp.delete(ip);
    else this.perIp.set(ip, n - 1);
    this.total--;
  }
}

/**
 * What handling one message (or one stream chunk) cost, in microseconds of
 * event-loop time: count, maximum, and a log-scale histogram (4 buckets per
 * doubling) for percentiles. Recording is a few arithmetic operations.
 */
export class CostRecord {
  count = 0;
  maxUs = 0;
  private readonly buckets = new Uint32Array(128);

  record(us: number): void {
    this.count++;
    if (us > this.maxUs) this.maxUs = us;
    const i = us <= 1 ? 0 : Math.min(127, Math.ceil(Math.log2(us) * 4));
    this.buckets[i]!++;
  }

  /** Upper bound of the q-quantile (0 < q <= 1), in microseconds. */
  quantileUs(q: number): number {
    const target = Math.ceil(this.count * q);
    let seen = 0;
    for (let i = 0; i < this.buckets.length; i++) {
      seen += this.buckets[i]!;
      if (seen >= target && seen > 0) return Math.min(this.maxUs, 2 ** (i / 4));
    }
    return this.maxUs;
  }

  snapshot(): { count: number; maxUs: number; p50Us: number; p99Us: number } {
    return { count: this.count, maxUs: this.maxUs, p50Us: this.quantileUs(0.5), p99Us: this.quantileUs(0.99) };
  }
}
