/**
 * The relay's port range as a pool of RTP/RTCP pairs (RTP on the even port,
 * RTCP on the next, RFC 3550 11). Released pairs go to the back of the
 * queue, so a port just freed is not handed out again at once (late packets
 * of the old call do not land in a new one). Pure: binding is the caller's.
 */
export class PortPool {
  private readonly free: number[] = [];
  private head = 0;
  private readonly taken = new Set<number>();

  constructor(min: number, max: number) {
    const first = min % 2 === 0 ? min : min + 1;
    for (let p = first; p + 1 <= max; p += 2) this.free.push(p);
  }

  /** Pairs in the range. */
  get capacity(): number {
    return this.free.length - this.head + this.taken.size;
  }

  get inUse(): number {
    return this.taken.size;
  }

  /** The next free pair's RTP port, or undefined when all are taken. */
  take(): number | undefined {
    if (this.head >= this.free.length) return undefined;
    const p = this.free[this.head++]!;
    if (this.head > 1024 && this.head * 2 > this.free.length) {
      this.free.splice(0, this.head);
      this.head = 0;
    }
    this.taken.add(p);
    return p;
  }

  release(port: number): void {
    if (!this.taken.delete(port)) return;
    this.free.push(port);
  }
}
