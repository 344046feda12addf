/**
 * `thor node`: one member of the overlay. It announces its entity on
 * `Thor.Presence` periodically, applies the active manager's snapshots in
 * `(epoch, seq)` order to keep one hash ring per role, runs its roles, and
 * leaves gracefully (`Thor.Leave`) when stopped.
 */
import { describeError, systemClock, type Clock, type Logger, type TimerHandle } from "../base/index.js";
import type { DatabaseAnnouncement, EventBus, EventMeta } from "../events/index.js";
import { MembershipFeed, type Entity, type MembershipSnapshot, type MembershipUpdate, type RoleMap } from "../overlay/index.js";
import { DatabaseDirectory } from "./database.js";
import type { Role, RoleContext, RoleReadiness } from "./role.js";
import type { ControlLink } from "./control/link.js";
import type { TlsIdentity } from "../pki/index.js";
import { DEFAULT_PRESENCE_INTERVAL_MS, DEFAULT_STATISTICS_INTERVAL_MS } from "./options.js";
import { CutOffDetector, DEFAULT_CUT_OFF_MS } from "./cut-off.js";

/** A peer asked which membership it holds has this long to answer. @default 1000 ms */
const MEMBERSHIP_PROBE_TIMEOUT_MS = 1_000;

export interface NodeRuntimeOptions {
  bus: EventBus;
  logger: Logger;
  clock?: Clock;
  /** Member id: the certificate CN. */
  id: string;
  ip: string;
  version: string;
  roles: Role[];
  /** Ports of the node itself (e.g. `lookup`), merged with the roles' own. */
  ports?: Record<string, number>;
  attrs?: Record<string, string | number | boolean>;
  /** The control link the roles use to call other members. */
  control?: ControlLink;
  /** The node's certificate, handed to roles for their member-to-member links. */
  identity?: TlsIdentity;
  presenceIntervalMs?: number;
  statisticsIntervalMs?: number;
  snapshotStaleMs?: number;
  /**
   * A node that hears no manager this long asks its peers whether the
   * cluster moved on without it (src/node/cut-off.ts). @default DEFAULT_CUT_OFF_MS
   */
  cutOffMs?: number;
  /** Points per member on each ring (fewer only for simulated members in benchmarks). @default DEFAULT_MULTIPLY */
  ringMultiply?: number;
}

export class NodeRuntime {
  private readonly clock: Clock;
  private readonly log: Logger;
  private readonly startedAt: number;
  private readonly database: DatabaseDirectory;
  private readonly attrs: Record<string, string | number | boolean>;
  private readonly feed: MembershipFeed;
  private timers = new Map<string, TimerHandle>();
  private unsubs: Array<() => void> = [];
  private started: Role[] = [];
  private cutOff: CutOffDetector | undefined;

  constructor(private readonly opts: NodeRuntimeOptions) {
    this.clock = opts.clock ?? systemClock;
    this.log = opts.logger;
    this.startedAt = this.clock.wallNow();
    this.database = new DatabaseDirectory(this.clock, this.log);
    this.attrs = { ...(opts.attrs ?? {}) };
    this.feed = new MembershipFeed({ clock: this.clock, logger: this.log, ...(opts.snapshotStaleMs !== undefined ? { staleMs: opts.snapshotStaleMs } : {}), ...(opts.ringMultiply !== undefined ? { multiply: opts.ringMultiply } : {}) });
    // First listener: the roles hear of a change before anyone who listens through onMembership.
    this.feed.subscribe((update) => this.onUpdate(update));
  }

  /** The entity this node announces. */
  self(): Entity {
    const ports: Record<string, number> = { ...(this.opts.ports ?? {}) };
    const attrs: Record<string, string | number | boolean> = {};
    for (const role of this.opts.roles) {
      const adv = role.advertise?.();
      Object.assign(ports, adv?.ports ?? {});
      Object.assign(attrs, adv?.attrs ?? {});
    }
    Object.assign(attrs, this.attrs);
    return {
      id: this.opts.id,
      ip: this.opts.ip,
      roles: this.opts.roles.map((r) => r.name),
      version: this.opts.version,
      ports,
      attrs,
      startedAt: this.startedAt,
    };
  }

  /** Why this node is cut off from the cluster now (src/node/cut-off.ts), or undefined. */
  get cutOffReason(): string | undefined {
    return this.cutOff?.cutOff;
  }

  roleMap(): RoleMap | undefined {
    return this.feed.roleMap;
  }

  currentSnapshot(): MembershipSnapshot | undefined {
    return this.feed.current;
  }

  currentDatabase(): DatabaseAnnouncement | undefined {
    return this.database.current();
  }

  /** Every accepted snapshot that changed something (members or the manager term), after the roles heard of it. */
  onMembership(listener: (update: MembershipUpdate) => void): () => void {
    return this.feed.subscribe((update) => {
      if (update.changes.length > 0) listener(update);
    });
  }

  async start(): Promise<void> {
    const { bus } = this.opts;
    this.unsubs.push(this.feed.follow(bus));
    this.database.start(bus);
    const ctx: RoleContext = {
      bus,
      logger: this.log,
      clock: this.clock,
      self: () => this.self(),
      roleMap: () => this.feed.roleMap,
      snapshot: () => this.feed.current,
      database: () => this.database.current(),
      databases: this.database,
      control: this.opts.control,
      identity: this.opts.identity,
      cutOff: () => this.cutOff?.cutOff,
      draining: () => this.attrs["draining"] === true,
    };
    const control = this.opts.control;
    if (control) {
      // Read-only: which membership this node holds and how fresh it is, for a peer that hears no manager.
      control.handle("node.membership", () => {
        const snap = this.feed.current;
        const at = this.feed.lastConfirmedAt;
        return { version: snap ? { epoch: snap.epoch, seq: snap.seq, manager: snap.manager } : null, heardMsAgo: at > 0 ? this.clock.now() - at : null };
      });
      this.cutOff = new CutOffDetector({
        clock: this.clock,
        logger: this.log,
        silenceMs: this.opts.cutOffMs ?? DEFAULT_CUT_OFF_MS,
        lastConfirmedAt: () => this.feed.lastConfirmedAt,
        version: () => this.feed.current,
        peers: () => (this.feed.current?.members ?? []).filter((m) => m.id !== this.opts.id && m.ports["control"] !== undefined).map((m) => m.id),
        probe: (peer) => control.call(peer, "node.membership", {}, MEMBERSHIP_PROBE_TIMEOUT_MS),
      });
      this.cutOff.start();
    }
    for (const role of this.opts.roles) {
      await role.start({ ...ctx, logger: this.log.child({ role: role.name }) });
      this.started.push(role);
    }
    this.every("presence", this.opts.presenceIntervalMs ?? DEFAULT_PRESENCE_INTERVAL_MS, () => this.announce());
    this.every("statistics", this.opts.statisticsIntervalMs ?? DEFAULT_STATISTICS_INTERVAL_MS, () => this.publishStatistics());
    this.log.info({ id: this.opts.id, ip: this.opts.ip, roles: this.opts.roles.map((r) => r.name) }, "node started");
  }

  /** Counters of every started role, as published on `Thor.Statistics`. */
  roleStatistics(): Record<string, Record<string, number>> {
    const roles: Record<string, Record<string, number>> = {};
    for (const role of this.started) {
      const s = role.statistics?.();
      if (s) roles[role.name] = s;
    }
    return roles;
  }

  /** Readiness: a membership that lists this node, every role started, and each role's own check. */
  readiness(): Record<string, RoleReadiness> {
    const snap = this.feed.current;
    const out: Record<string, RoleReadiness> = {
      membership: snap ? (snap.members.some((m) => m.id === this.opts.id) ? { ok: true, detail: `epoch ${snap.epoch}, ${snap.members.length} members` } : { ok: false, detail: "not yet listed in the snapshot" }) : { ok: false, detail: "no membership snapshot yet" },
      cluster: this.cutOff?.cutOff !== undefined ? { ok: false, detail: `cut off: ${this.cutOff.cutOff}` } : { ok: true, detail: "member" },
      roles: this.started.length === this.opts.roles.length ? { ok: true, detail: this.opts.roles.map((r) => r.name).join(",") } : { ok: false, detail: `${this.started.length} of ${this.opts.roles.length} roles started` },
    };
    for (const role of this.started) {
      const r = role.readiness?.();
      if (r) out[role.name] = r;
    }
    return out;
  }

  /** Mark the node draining (it leaves every ring but stays online) or back. */
  setDraining(draining: boolean): void {
    if (draining) this.attrs["draining"] = true;
    else delete this.attrs["draining"];
    this.announce();
  }

  /** Leave gracefully: announce the leave, then stop the roles. */
  async stop(): Promise<void> {
    for (const t of this.timers.values()) this.clock.clearTimeout(t);
    this.timers.clear();
    this.cutOff?.stop();
    try {
      this.opts.bus.publish("Thor.Leave", { id: this.opts.id, ip: this.opts.ip });
    } catch (err) {
      this.log.warn({ err: describeError(err) }, "could not announce the leave");
    }
    for (const off of this.unsubs) off();
    this.unsubs = [];
    this.database.stop();
    for (const role of this.started.reverse()) {
      try {
        await role.stop();
      } catch (err) {
        this.log.error({ role: role.name, err: describeError(err) }, "role failed to stop");
      }
    }
    this.started = [];
    this.log.info("node left the network");
  }

  private every(name: string, ms: number, fn: () => void): void {
    const run = () => {
      try {
        fn();
      } catch (err) {
        this.log.warn({ task: name, err: describeError(err) }, "periodic task failed");
      }
      this.timers.set(name, this.clock.setTimeout(run, ms));
    };
    run();
  }

  /**
   * Announce this node, once it holds the membership: its join then reaches
   * the others only when it can already place keys on the rings (a peer
   * handing registrations over to it finds it ready). Until the first table
   * arrives the announcements wait; the table's update announces at once.
   */
  private announce(): void {
    if (!this.feed.current) return;
    this.opts.bus.publish("Thor.Presence", this.self());
  }

  private publishStatistics(): void {
    const roles = this.roleStatistics();
    this.opts.bus.publish("Thor.Statistics", { id: this.opts.id, ip: this.opts.ip, at: this.clock.wallNow(), roles });
  }

  private onUpdate(update: MembershipUpdate): void {
    if (update.changes.length === 0) return;
    if (!update.snapshot.members.some((m) => m.id === this.opts.id)) this.announce();
    for (const role of this.started) {
      try {
        role.onMembership?.(update);
      } catch (err) {
        this.log.error({ role: role.name, err: describeError(err) }, "role failed on membership change");
      }
    }
  }
}
