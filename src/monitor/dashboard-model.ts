/**
 * What the web dashboard shows, computed from the monitor's
 * {@link NetworkView} (the one membership feed plus the managers'
 * heartbeats, database announcements and statistics): a plain JSON value
 * the page renders. Pure: no I/O, no clock of its own.
 *
 * Rings are drawn as one arc per node and role, its length the node's share
 * of the ring (the fraction of the hash circle it answers for), laid out in
 * member-id order so that the picture stays still while shares move.
 */
import { redactUri } from "../base/index.js";
import type { NetworkEvent, NetworkView } from "./network-view.js";

/** Events sent to the page (the newest). @default 50 */
export const DEFAULT_DASHBOARD_EVENTS = 50;
/** Statistics of members outside the snapshot (`thor dns`) shown at most. @default 32 */
export const DEFAULT_DASHBOARD_OTHERS = 32;

/** The per-member figures the dashboard shows, summed over the member's roles; absent when never reported. */
export interface MemberFigures {
  registrations?: number;
  bindings?: number;
  calls?: number;
  transactions?: number;
  relaySessions?: number;
  dnsQueries?: number;
  /** Wall-clock time of the report (ms). */
  at: number;
}

export interface DashboardMember {
  id: string;
  ip: string;
  version: string;
  roles: string[];
  draining: boolean;
  startedAt: number;
  /** role → share of its ring (0..1). */
  shares: Record<string, number>;
  figures: MemberFigures | null;
}

export interface RingArc {
  id: string;
  ip: string;
  /** Start and end on the circle, fractions of a turn (0..1). */
  start: number;
  end: number;
  share: number;
}

export interface DashboardState {
  /** Wall-clock time this state was built (ms). */
  at: number;
  snapshot: { epoch: number; seq: number; manager: string; members: number } | null;
  activeManager: { id: string; ip: string; term: number } | null;
  managers: Array<{ id: string; ip: string; active: boolean; term: number; priority: number }>;
  databases: Array<{ id: string; uri: string; priority: number }>;
  members: DashboardMember[];
  rings: Array<{ role: string; arcs: RingArc[] }>;
  /** Statistics of members that are not in the snapshot (e.g. `thor dns`), newest first. */
  others: Array<{ id: string; ip: string; figures: MemberFigures }>;
  /** Newest last. */
  events: NetworkEvent[];
}

export interface DashboardModelOptions {
  /** @default DEFAULT_DASHBOARD_EVENTS */
  events?: number;
  /** @default DEFAULT_DASHBOARD_OTHERS */
  others?: number;
  /** Wall-clock now (ms). */
  now: number;
}

/** Sum a counter over every role of a statistics report; undefined when no role reports it. */
function sum(roles: Record<string, Record<string, number>>, role: string | undefined, counter: string): number | undefined {
  let total: number | undefined;
  for (const [name, counters] of Object.entries(roles)) {
    if (role !== undefined && name !== role) continue;
    const v = counters[counter];
    if (typeof v === "number" && Number.isFinite(v)) total = (total ?? 0) + v;
  }
  return total;
}

/** The figures of one `Thor.Statistics` report. */
export function memberFigures(report: { at: number; roles: Record<string, Record<string, number>> }): MemberFigures {
  const f: MemberFigures = { at: report.at };
  const put = (key: Exclude<keyof MemberFigures, "at">, v: number | undefined) => {
    if (v !== undefined) f[key] = v;
  };
  put("registrations", sum(report.roles, "sip_proxy", "registrations"));
  put("bindings", sum(report.roles, "sip_proxy", "bindings"));
  put("calls", sum(report.roles, "sip_proxy", "calls"));
  put("transactions", sum(report.roles, "sip_proxy", "transactions"));
  put("relaySessions", sum(report.roles, "media_relay", "sessions"));
  put("dnsQueries", sum(report.roles, "dns", "queries"));
  return f;
}

/** The dashboard's view of the network now. */
export function dashboardState(view: NetworkView, opts: DashboardModelOptions): DashboardState {
  const snap = view.snapshot;
  const members = [...(snap?.members ?? [])].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  const inSnapshot = new Set(members.map((m) => m.id));
  const out: DashboardMember[] = members.map((m) => {
    const report = view.statistics.get(m.id);
    return { id: m.id, ip: m.ip, version: m.version, roles: [...m.roles], draining: m.attrs["draining"] === true, startedAt: m.startedAt, shares: view.shares(m), figures: report ? memberFigures(report) : null };
  });
  const roles = [...new Set(members.flatMap((m) => m.roles))].sort();
  const rings = roles.map((role) => {
    let at = 0;
    const arcs: RingArc[] = [];
    for (const m of out) {
      const share = m.shares[role];
      if (share === undefined || !m.roles.includes(role)) continue;
      arcs.push({ id: m.id, ip: m.ip, start: at, end: Math.min(1, at + share), share });
      at += share;
    }
    return { role, arcs };
  });
  const others = [...view.statistics.values()]
    .filter((s) => !inSnapshot.has(s.id))
    .sort((a, b) => b.at - a.at)
    .slice(0, opts.others ?? DEFAULT_DASHBOARD_OTHERS)
    .map((s) => ({ id: s.id, ip: s.ip, figures: memberFigures(s) }));
  const active = view.activeManager();
  return {
    at: opts.now,
    snapshot: snap ? { epoch: snap.epoch, seq: snap.seq, manager: snap.manager, members: snap.members.length } : null,
    activeManager: active ? { id: active.id, ip: active.ip, term: active.term } : null,
    managers: [...view.managers.values()].map(({ hb }) => ({ id: hb.id, ip: hb.ip, active: hb.active, term: hb.term, priority: hb.priority })).sort((a, b) => a.priority - b.priority),
    databases: [...view.databases.values()].map(({ ann }) => ({ id: ann.id, uri: redactUri(ann.dburi), priority: ann.priority })).sort((a, b) => a.priority - b.priority),
    members: out,
    rings,
    others,
    events: view.events.slice(-(opts.events ?? DEFAULT_DASHBOARD_EVENTS)),
  };
}
