/**
 * Test helpers that speak the membership protocol (docs/manager.md,
 * "Deltas") the way the active manager does, for tests that drive a feed,
 * `thor dns` or a role without running a manager.
 */
import type { EventBus } from "../../src/events/index.js";
import { encodeTable, MembershipDigest, toTuple, type Entity, type MembershipBeacon, type MembershipDelta, type MembershipSnapshot, type MembershipTablePart } from "../../src/overlay/index.js";

/** The parts of the full table of `snap`. */
export function tableParts(snap: MembershipSnapshot, partBytes?: number): MembershipTablePart[] {
  return encodeTable({ epoch: snap.epoch, seq: snap.seq, manager: snap.manager, at: snap.at }, snap.members, partBytes);
}

/** Publish the full table of `snap` (to everyone, or to the CNs in `to`). */
export function publishTable(bus: EventBus, snap: MembershipSnapshot, to?: string[]): void {
  for (const part of tableParts(snap)) bus.publish("Thor.MembersTable", part, to ? { to } : undefined);
}

/** The delta that takes `before` (at `seq - 1`) to `after` at `seq`, with the digest of `after`. */
export function deltaOf(before: readonly Entity[], after: readonly Entity[], h: { epoch: number; seq: number; manager?: string; at?: number }): MembershipDelta {
  const old = new Map(before.map((m) => [m.id, m]));
  const upsert = after.filter((m) => JSON.stringify(toTuple(m)) !== JSON.stringify(old.get(m.id) ? toTuple(old.get(m.id)!) : null)).map(toTuple);
  const ids = new Set(after.map((m) => m.id));
  const remove = before.filter((m) => !ids.has(m.id)).map((m) => m.id);
  return { kind: "delta", epoch: h.epoch, seq: h.seq, manager: h.manager ?? "mgr1", at: h.at ?? 1_800_000_000_000 + h.seq, count: after.length, digest: MembershipDigest.of(after).value, upsert, remove };
}

/** The beacon of `members` at version `(epoch, seq)`. */
export function beaconOf(members: readonly Entity[], h: { epoch: number; seq: number; manager?: string; at?: number }): MembershipBeacon {
  return { kind: "beacon", epoch: h.epoch, seq: h.seq, manager: h.manager ?? "mgr1", at: h.at ?? 1_800_000_000_000 + h.seq, count: members.length, digest: MembershipDigest.of(members).value };
}
