/**
 * Manager election, sans-IO. Every manager sends a heartbeat each
 * `heartbeatMs`; a manager not heard from for `deadMs` is dead.
 *
 * - A new manager first listens for `deadMs` so it learns the current active
 *   manager and term before it may act ("listening"), counted again from the
 *   moment it first hears the network ({@link Election.resume}).
 * - When no live manager claims to be active, the best live candidate by
 *   `(priority, id)` (lower wins) becomes active with a new term, greater
 *   than every term seen and than the wall-clock second, so terms keep
 *   growing even across a restart of every manager.
 * - No preemption: a better manager that joins later stays standby.
 * - Two actives (after a partition heals) resolve deterministically: the
 *   higher term wins, then the better `(priority, id)`; the loser steps down
 *   when it hears the winner's heartbeat.
 * - A manager that stops gracefully says so (`active: false`), and the next
 *   candidate takes over on its next heartbeat instead of after `deadMs`.
 */
import type { ManagerHeartbeat } from "../events/index.js";

export type ElectionState = "listening" | "standby" | "active";

export interface ElectionConfig {
  id: string;
  ip: string;
  priority: number;
  startedAt: number;
  deadMs: number;
  /** Wall-clock ms, the floor of new terms. */
  wallNow: () => number;
}

export interface Transition {
  from: ElectionState;
  to: ElectionState;
  term: number;
  reason: string;
}

interface Peer {
  hb: ManagerHeartbeat;
  seen: number;
}

function better(a: { priority: number; id: string }, b: { priority: number; id: string }): boolean {
  return a.priority < b.priority || (a.priority === b.priority && a.id < b.id);
}

/** True when active heartbeat `a` wins over active heartbeat `b`. */
export function winsOver(a: { term: number; priority: number; id: string }, b: { term: number; priority: number; id: string }): boolean {
  return a.term > b.term || (a.term === b.term && better(a, b));
}

export class Election {
  private state: ElectionState = "listening";
  private myTerm = 0;
  private maxSeenTerm = 0;
  private readonly peers = new Map<string, Peer>();
  private listenUntil: number;

  constructor(
    private readonly cfg: ElectionConfig,
    now: number,
  ) {
    this.listenUntil = now + cfg.deadMs;
  }

  get role(): ElectionState {
    return this.state;
  }

  get term(): number {
    return this.state === "active" ? this.myTerm : this.maxSeenTerm;
  }

  /** The live manager currently claiming to be active (ourselves included). */
  activeId(): string | undefined {
    if (this.state === "active") return this.cfg.id;
    let best: ManagerHeartbeat | undefined;
    for (const { hb } of this.peers.values()) if (hb.active && (!best || winsOver(hb, best))) best = hb;
    return best?.id;
  }

  /** Live peers as last heard (for monitoring). */
  livePeers(): ManagerHeartbeat[] {
    return [...this.peers.values()].map((p) => p.hb);
  }

  heartbeat(): ManagerHeartbeat {
    const { id, ip, priority, startedAt } = this.cfg;
    return { id, ip, priority, startedAt, term: this.term, active: this.state === "active" };
  }

  /** Leave the election: the heartbeat to send so others take over at once. */
  resign(): ManagerHeartbeat {
    this.state = "standby";
    return { ...this.heartbeat(), active: false, stopping: true };
  }

  /**
   * This manager could not hear anyone until `now` (every event server was
   * out of reach): the managers it knew count as heard from now, so they
   * get `deadMs` to be heard again before anyone takes over. Silence is
   * not death.
   */
  resume(now: number): void {
    for (const p of this.peers.values()) p.seen = Math.max(p.seen, now);
    // A manager that has heard nothing since it started listens again before it may take over: the
    // active manager's heartbeats arrive within `deadMs`, and it must not be preempted by a new term.
    // A standby keeps what it knew (its peers count as heard from now).
    if (this.state === "listening") this.listenUntil = Math.max(this.listenUntil, now + this.cfg.deadMs);
  }

  /**
   * A heartbeat of another manager. With `act` false (this manager cannot
   * hear a majority of the event servers) it is recorded and an active
   * manager still steps down for a winner, but nothing else moves: no
   * takeover on a partial view.
   */
  receive(hb: ManagerHeartbeat, now: number, act = true): Transition | undefined {
    if (hb.id === this.cfg.id) return undefined;
    if (hb.stopping) this.peers.delete(hb.id);
    else this.peers.set(hb.id, { hb, seen: now });
    if (hb.term > this.maxSeenTerm) this.maxSeenTerm = hb.term;
    if (this.state === "active" && hb.active && winsOver(hb, { term: this.myTerm, priority: this.cfg.priority, id: this.cfg.id })) {
      this.state = "standby";
      return { from: "active", to: "standby", term: hb.term, reason: `manager ${hb.id} is active with term ${hb.term}` };
    }
    return act ? this.tick(now) : undefined;
  }

  tick(now: number): Transition | undefined {
    for (const [id, p] of this.peers) if (now - p.seen > this.cfg.deadMs) this.peers.delete(id);
    if (this.state === "active") return undefined;
    if (now < this.listenUntil) return undefined;
    if (this.state === "listening") {
      this.state = "standby";
      if (this.activeId() !== undefined) return { from: "listening", to: "standby", term: this.maxSeenTerm, reason: `manager ${this.activeId()} is active` };
    }
    if (this.activeId() !== undefined) return undefined;
    for (const { hb } of this.peers.values()) if (better(hb, this.cfg)) return undefined;
    const from = this.state;
    this.myTerm = Math.max(this.maxSeenTerm + 1, Math.floor(this.cfg.wallNow() / 1000));
    this.maxSeenTerm = this.myTerm;
    this.state = "active";
    return { from, to: "active", term: this.myTerm, reason: this.peers.size === 0 ? "no other manager alive" : "no active manager; best candidate" };
  }
}
