/**
 * Where the provisioning database is: `thor database` announces it on
 * `Thor.Database`; every member keeps the announcements it hears and picks
 * the lowest `(priority, ip)` among those not expired.
 */
import { redactUri, type Clock, type Logger, type TimerHandle } from "../base/index.js";
import type { DatabaseAnnouncement, EventBus } from "../events/index.js";
import { DEFAULT_DATABASE_INTERVAL_MS } from "./options.js";
import type { DatabaseView } from "./role.js";

function preferred(a: DatabaseAnnouncement, b: DatabaseAnnouncement): boolean {
  return a.priority < b.priority || (a.priority === b.priority && a.ip < b.ip);
}

export class DatabaseDirectory implements DatabaseView {
  private readonly seen = new Map<string, { ann: DatabaseAnnouncement; at: number }>();
  private readonly listeners = new Set<(databases: DatabaseAnnouncement[]) => void>();
  private lastChoice: string | undefined;
  private lastSet = "";
  private off: (() => void) | undefined;

  constructor(
    private readonly clock: Clock,
    private readonly logger: Logger,
    private readonly expireMs = DEFAULT_DATABASE_INTERVAL_MS * 3,
  ) {}

  start(bus: EventBus): void {
    this.off = bus.subscribe("Thor.Database", (ann) => {
      this.seen.set(ann.id, { ann, at: this.clock.now() });
      const all = this.all();
      const set = all.map((a) => `${a.priority}:${a.dburi}`).join("|");
      if (set === this.lastSet) return;
      this.lastSet = set;
      for (const l of this.listeners) l(all);
    });
  }

  onChange(listener: (databases: DatabaseAnnouncement[]) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  stop(): void {
    this.off?.();
  }

  /** Every live announcement, preferred first (primary, then secondaries). */
  all(): DatabaseAnnouncement[] {
    this.current();
    return [...this.seen.values()].map((s) => s.ann).sort((a, b) => (preferred(a, b) ? -1 : preferred(b, a) ? 1 : 0));
  }

  /** The preferred live database, logging when the choice changes. */
  current(): DatabaseAnnouncement | undefined {
    const now = this.clock.now();
    let best: DatabaseAnnouncement | undefined;
    for (const [id, { ann, at }] of this.seen) {
      if (now - at > this.expireMs) {
        this.seen.delete(id);
        continue;
      }
      if (!best || preferred(ann, best)) best = ann;
    }
    const choice = best ? `${best.id} ${best.dburi}` : undefined;
    if (choice !== this.lastChoice) {
      this.lastChoice = choice;
      if (best) this.logger.info({ database: best.id, dburi: redactUri(best.dburi), priority: best.priority }, "database selected");
      else this.logger.warn("no database announced");
    }
    return best;
  }
}

/** `thor database`: announce the database location periodically. */
export class DatabaseAnnouncer {
  private timer: TimerHandle | undefined;

  constructor(
    private readonly bus: EventBus,
    private readonly clock: Clock,
    private readonly announcement: DatabaseAnnouncement,
    private readonly intervalMs = DEFAULT_DATABASE_INTERVAL_MS,
  ) {}

  start(): void {
    const tick = () => {
      this.bus.publish("Thor.Database", this.announcement);
      this.timer = this.clock.setTimeout(tick, this.intervalMs);
    };
    tick();
  }

  stop(): void {
    if (this.timer) this.clock.clearTimeout(this.timer);
  }
}
