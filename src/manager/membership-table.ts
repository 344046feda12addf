/**
 * The manager's view of who is in the network, sans-IO: presence refreshes or
 * adds a member, leave removes it, `expire` removes members silent longer
 * than the timeout. Every operation says whether the membership changed, so
 * the manager publishes a snapshot only when needed.
 */
import { sameEntity, type Entity } from "../overlay/index.js";

interface Row {
  entity: Entity;
  lastSeen: number;
}

export type TableChange = { kind: "joined" | "updated"; entity: Entity } | { kind: "left" | "expired"; entity: Entity };

export class MembershipTable {
  private readonly rows = new Map<string, Row>();

  /** Record a presence announcement; returns the change, if any. */
  presence(entity: Entity, now: number): TableChange | undefined {
    const row = this.rows.get(entity.id);
    this.rows.set(entity.id, { entity, lastSeen: now });
    if (!row) return { kind: "joined", entity };
    return sameEntity(row.entity, entity) ? undefined : { kind: "updated", entity };
  }

  leave(id: string): TableChange | undefined {
    const row = this.rows.get(id);
    if (!row) return undefined;
    this.rows.delete(id);
    return { kind: "left", entity: row.entity };
  }

  /** Remove members not heard from since `now - timeoutMs`. */
  expire(now: number, timeoutMs: number): TableChange[] {
    const out: TableChange[] = [];
    for (const [id, row] of this.rows) {
      if (now - row.lastSeen > timeoutMs) {
        this.rows.delete(id);
        out.push({ kind: "expired", entity: row.entity });
      }
    }
    return out;
  }

  /** Add members from a snapshot that are not known yet (takeover), as seen `now`. */
  /** Count every member as heard from at `now` (the manager could not hear anyone until then). */
  touchAll(now: number): void {
    for (const row of this.rows.values()) row.lastSeen = Math.max(row.lastSeen, now);
  }

  seed(members: readonly Entity[], now: number): number {
    let added = 0;
    for (const m of members) {
      if (!this.rows.has(m.id)) {
        this.rows.set(m.id, { entity: m, lastSeen: now });
        added++;
      }
    }
    return added;
  }

  get(id: string): Entity | undefined {
    return this.rows.get(id)?.entity;
  }

  /** Members sorted by id: the snapshot order is deterministic. */
  members(): Entity[] {
    return [...this.rows.values()].map((r) => r.entity).sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }

  get size(): number {
    return this.rows.size;
  }
}
