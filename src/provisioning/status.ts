/**
 * Network status for the API: the live membership (the `getStatus` of
 * NGNPro) and per-role statistics aggregated from every member's
 * `Thor.Statistics` report. Pure: the role feeds it what the bus delivers.
 */
import { DEFAULT_STATISTICS_MAX_AGE_MS } from "./options.js";

export interface StatisticsReportInput {
  id: string;
  ip: string;
  at: number;
  roles: Record<string, Record<string, number>>;
}

export interface AggregatedStatistics {
  at: number;
  members: number;
  /** role → { members, counters: sum over members } */
  roles: Record<string, { members: number; counters: Record<string, number> }>;
  /** The latest report of every member. */
  perMember: StatisticsReportInput[];
}

/** What the HTTP layer asks for; implemented over the event bus by the role. */
export interface NetworkStatusSource {
  /** The latest membership snapshot (as published on `Thor.Members`), if any. */
  membership(): unknown;
  statistics(): AggregatedStatistics;
}

export class StatisticsAggregator {
  private readonly latest = new Map<string, { report: StatisticsReportInput; seenAt: number }>();

  constructor(
    private readonly now: () => number,
    private readonly maxAgeMs = DEFAULT_STATISTICS_MAX_AGE_MS,
  ) {}

  add(report: StatisticsReportInput): void {
    this.latest.set(report.id, { report, seenAt: this.now() });
  }

  forget(id: string): void {
    this.latest.delete(id);
  }

  aggregate(): AggregatedStatistics {
    const now = this.now();
    const roles: AggregatedStatistics["roles"] = {};
    const perMember: StatisticsReportInput[] = [];
    for (const [id, { report, seenAt }] of this.latest) {
      if (now - seenAt > this.maxAgeMs) {
        this.latest.delete(id);
        continue;
      }
      perMember.push(report);
      for (const [role, counters] of Object.entries(report.roles)) {
        const r = (roles[role] ??= { members: 0, counters: {} });
        r.members++;
        for (const [k, v] of Object.entries(counters)) r.counters[k] = (r.counters[k] ?? 0) + v;
      }
    }
    perMember.sort((a, b) => a.id.localeCompare(b.id));
    return { at: now, members: perMember.length, roles, perMember };
  }
}
