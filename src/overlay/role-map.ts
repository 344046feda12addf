/**
 * One hash ring per role, built from a membership snapshot. Nodes are placed
 * on the rings by IP address (as in SIP Thor), so the owner of a key is the
 * same in every member that applied the same snapshot. A draining member
 * stays online but leaves every ring.
 */
import type { Entity } from "./entity.js";
import { HashRing } from "./ring.js";
import { DEFAULT_MULTIPLY } from "./options.js";

/** The rings a member is on: its roles, none while draining (unless draining members are kept). */
function ringRoles(m: Entity, opts: RoleMapOptions): readonly string[] {
  return (opts.excludeDraining ?? true) && m.attrs["draining"] === true ? [] : m.roles;
}

export interface RoleMapOptions {
  multiply?: number;
  /** Leave members with `attrs.draining === true` out of the rings. @default true */
  excludeDraining?: boolean;
}

export class RoleMap {
  private constructor(
    readonly members: readonly Entity[],
    private readonly rings: ReadonlyMap<string, HashRing>,
    private readonly byIp: ReadonlyMap<string, Entity>,
    private readonly opts: RoleMapOptions,
  ) {}

  static fromMembers(members: readonly Entity[], opts: RoleMapOptions = {}): RoleMap {
    const perRole = new Map<string, string[]>();
    const byIp = new Map<string, Entity>();
    for (const m of members) {
      byIp.set(m.ip, m);
      for (const role of ringRoles(m, opts)) {
        let ips = perRole.get(role);
        if (!ips) perRole.set(role, (ips = []));
        ips.push(m.ip);
      }
    }
    const rings = new Map<string, HashRing>();
    for (const [role, ips] of perRole) rings.set(role, new HashRing(ips, opts.multiply ?? DEFAULT_MULTIPLY));
    return new RoleMap(members, rings, byIp, opts);
  }

  /**
   * The map of `members`, derived from this one by the member changes that
   * lead there: only the points of members that joined, left, moved or
   * changed their ring roles (a role added or dropped, draining) are cut out
   * of or merged into the rings ({@link HashRing.withChanges}). Equal to
   * `RoleMap.fromMembers(members)` with the same options.
   */
  withChanges(members: readonly Entity[], changes: ReadonlyArray<{ readonly before?: Entity | undefined; readonly after?: Entity | undefined }>): RoleMap {
    const add = new Map<string, string[]>();
    const remove = new Map<string, string[]>();
    const push = (m: Map<string, string[]>, role: string, ip: string) => {
      let list = m.get(role);
      if (!list) m.set(role, (list = []));
      list.push(ip);
    };
    for (const { before, after } of changes) {
      const was = before ? ringRoles(before, this.opts) : [];
      const is = after ? ringRoles(after, this.opts) : [];
      for (const role of was) if (before!.ip !== after?.ip || !is.includes(role)) push(remove, role, before!.ip);
      for (const role of is) if (before?.ip !== after!.ip || !was.includes(role)) push(add, role, after!.ip);
    }
    const byIp = new Map<string, Entity>();
    for (const m of members) byIp.set(m.ip, m);
    const rings = new Map(this.rings);
    for (const role of new Set([...add.keys(), ...remove.keys()])) {
      const ring = rings.get(role);
      const next = ring ? ring.withChanges(add.get(role) ?? [], remove.get(role) ?? []) : new HashRing(add.get(role) ?? [], this.opts.multiply ?? DEFAULT_MULTIPLY);
      if (next.size === 0) rings.delete(role);
      else rings.set(role, next);
    }
    return new RoleMap(members, rings, byIp, this.opts);
  }

  roles(): string[] {
    return [...this.rings.keys()].sort();
  }

  ring(role: string): HashRing | undefined {
    return this.rings.get(role);
  }

  /** The member responsible for `key` in `role`, or undefined when no member has the role. */
  lookup(role: string, key: string): Entity | undefined {
    const ip = this.rings.get(role)?.lookup(key);
    return ip === undefined ? undefined : this.byIp.get(ip);
  }

  /** Owner then replicas: the first `count` distinct members clockwise. */
  successors(role: string, key: string, count: number): Entity[] {
    return (this.rings.get(role)?.successors(key, count) ?? []).map((ip) => this.byIp.get(ip)!);
  }

  /** Whether a member with this address is in the membership with this role. */
  isOnline(ip: string, role: string): boolean {
    return this.byIp.get(ip)?.roles.includes(role) ?? false;
  }

  memberByIp(ip: string): Entity | undefined {
    return this.byIp.get(ip);
  }

  /** Ring share per member IP for `role`. */
  shares(role: string): Map<string, number> {
    return this.rings.get(role)?.shares() ?? new Map();
  }
}
