/**
 * One hash ring per role, built from a membership snapshot. Nodes are placed
 * on the rings by IP address (as in SIP Thor), so the owner of a key is the
 * same in every member that applied the same snapshot. A draining member
 * stays online but leaves every ring.
 */
import type { Entity } from "./entity.js";
import { HashRing } from "./ring.js";
import { DEFAULT_MULTIPLY } from "./options.js";

export interface RoleMapOptions {
  multiply?: number;
  /** Leave members with `attrs.draining === true` out of the rings. @default true */
  excludeDraining?: boolean;
}

export class RoleMap {
  private readonly rings = new Map<string, HashRing>();
  private readonly byIp = new Map<string, Entity>();

  private constructor(readonly members: readonly Entity[], opts: RoleMapOptions) {
    const perRole = new Map<string, string[]>();
    for (const m of members) {
      this.byIp.set(m.ip, m);
      if ((opts.excludeDraining ?? true) && m.attrs["draining"] === true) continue;
      for (const role of m.roles) {
        let ips = perRole.get(role);
        if (!ips) perRole.set(role, (ips = []));
        ips.push(m.ip);
      }
    }
    for (const [role, ips] of perRole) this.rings.set(role, new HashRing(ips, opts.multiply ?? DEFAULT_MULTIPLY));
  }

  static fromMembers(members: readonly Entity[], opts: RoleMapOptions = {}): RoleMap {
    return new RoleMap(members, opts);
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
