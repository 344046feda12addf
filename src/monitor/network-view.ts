import type { EventBus, EventMeta, ManagerHeartbeat, StatisticsReport, DatabaseAnnouncement, TopicMap } from "../events/index.js";
import { MembershipFeed, RoleMap, type Entity, type MembershipSnapshot, type MembershipUpdate } from "../overlay/index.js";
import { redactUri, type Clock } from "../base/index.js";

/** One line of the monitor's event log. */
export interface NetworkEvent {
  at: number;
  kind: "joined" | "left" | "changed" | "manager" | "database" | "snapshot";
  text: string;
}

/**
 * What the monitor knows about the network, built only from events (the same
 * stream every member sees): the newest membership snapshot, the managers'
 * heartbeats, database announcements and statistics. Pure state + a
 * subscription helper; rendering is in `render.ts`.
 */
export class NetworkView {
  /** The one membership feed (manager certificate, `(epoch, seq)` order, staleness). */
  readonly feed: MembershipFeed;
  private static readonly EMPTY = RoleMap.fromMembers([]);
  /** Ring shares per role, computed when first asked after a change (a walk around every ring), not on the membership path. */
  private roleShares: Map<string, Map<string, number>> | undefined;
  readonly managers = new Map<string, { hb: ManagerHeartbeat; seenAt: number }>();
  readonly databases = new Map<string, { ann: DatabaseAnnouncement; seenAt: number }>();
  readonly statistics = new Map<string, StatisticsReport>();
  readonly events: NetworkEvent[] = [];
  private readonly listeners = new Set<() => void>();

  constructor(
    private readonly clock: Clock,
    private readonly maxEvents = 200,
    /** Statistics reports kept (one per member id); the oldest report is forgotten past it. */
    private readonly maxStatistics = 4096,
  ) {
    this.feed = new MembershipFeed({ clock });
    this.feed.subscribe((u) => this.onUpdate(u));
  }

  get snapshot(): MembershipSnapshot | undefined {
    return this.feed.current;
  }

  get roleMap(): RoleMap {
    return this.feed.roleMap ?? NetworkView.EMPTY;
  }

  /** Subscribe to every topic the view needs; returns an unsubscribe function. */
  attach(bus: EventBus): () => void {
    const offs = [
      this.feed.follow(bus),
      bus.subscribe("Thor.Manager", (hb) => this.onManager(hb)),
      bus.subscribe("Thor.Database", (a) => this.onDatabase(a)),
      bus.subscribe("Thor.Statistics", (s) => this.onStatistics(s)),
      bus.subscribe("Thor.Leave", (l, meta) => this.onLeave(l, meta)),
    ];
    return () => offs.forEach((off) => off());
  }

  onChange(fn: () => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  /** The manager currently claiming to be active and heard within `aliveMs`. */
  activeManager(aliveMs = 5_000): ManagerHeartbeat | undefined {
    const now = this.clock.now();
    let best: ManagerHeartbeat | undefined;
    for (const { hb, seenAt } of this.managers.values()) {
      if (hb.active && now - seenAt <= aliveMs && (!best || hb.term > best.term)) best = hb;
    }
    return best;
  }

  private onUpdate({ previous, changes }: MembershipUpdate): void {
    for (const c of changes) {
      if (c.type === "joined") this.log("joined", `${c.member.id} (${c.member.ip}) joined with roles ${c.member.roles.join(",") || "-"}`);
      else if (c.type === "left") {
        this.log("left", `${c.member.id} (${c.member.ip}) left`);
        this.statistics.delete(c.member.id);
      }
      else if (c.type === "term" && previous) this.log("snapshot", `new manager term ${c.epoch} (${c.manager})`);
      else if (c.type === "changed" && c.previous.startedAt !== c.member.startedAt) this.log("changed", `${c.member.id} restarted`);
      else if (c.type === "changed" && c.previous.attrs["draining"] !== c.member.attrs["draining"]) this.log("changed", `${c.member.id} ${c.member.attrs["draining"] ? "is draining" : "stopped draining"}`);
    }
    if (changes.some((c) => c.type !== "term")) this.roleShares = undefined;
    this.changed();
  }

  onManager(hb: ManagerHeartbeat): void {
    const prev = this.managers.get(hb.id)?.hb;
    if (!prev) this.log("manager", `manager ${hb.id} (${hb.ip}) seen`);
    if (prev && prev.active !== hb.active) this.log("manager", `manager ${hb.id} ${hb.active ? `became active (term ${hb.term})` : "is standby"}`);
    else if (!prev && hb.active) this.log("manager", `manager ${hb.id} is active (term ${hb.term})`);
    this.managers.set(hb.id, { hb, seenAt: this.clock.now() });
    this.changed();
  }

  onDatabase(a: DatabaseAnnouncement): void {
    if (!this.databases.has(a.id)) this.log("database", `database ${redactUri(a.dburi)} announced by ${a.id} (priority ${a.priority})`);
    this.databases.set(a.id, { ann: a, seenAt: this.clock.now() });
    this.changed();
  }

  onStatistics(s: StatisticsReport): void {
    // Re-inserted at the end: the first entry is always the least recently reported.
    this.statistics.delete(s.id);
    if (this.statistics.size >= this.maxStatistics) this.statistics.delete(this.statistics.keys().next().value as string);
    this.statistics.set(s.id, s);
    this.changed();
  }

  onLeave(l: TopicMap["Thor.Leave"], _meta: EventMeta): void {
    this.log("left", `${l.id} (${l.ip}) announced it is leaving`);
    this.changed();
  }

  /** Ring share (0..1) of `member` for each of its roles. */
  shares(member: Entity): Record<string, number> {
    const out: Record<string, number> = {};
    const map = this.feed.roleMap;
    this.roleShares ??= new Map((map?.roles() ?? []).map((role) => [role, map?.ring(role)?.shares() ?? new Map<string, number>()]));
    for (const role of member.roles) out[role] = this.roleShares.get(role)?.get(member.ip) ?? 0;
    return out;
  }

  private log(kind: NetworkEvent["kind"], text: string): void {
    this.events.push({ at: this.clock.wallNow(), kind, text });
    if (this.events.length > this.maxEvents) this.events.splice(0, this.events.length - this.maxEvents);
  }

  private changed(): void {
    for (const fn of this.listeners) fn();
  }
}
