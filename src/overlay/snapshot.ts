import { z } from "zod";
import { entitySchema } from "./entity.js";
import { MAX_MEMBERS } from "./options.js";

/**
 * The full membership as published by the active manager on `Thor.Members`.
 *
 * Ordering: snapshots are totally ordered by `(epoch, seq)`. `epoch` is the
 * manager term (bumped by every takeover), `seq` counts snapshots within a
 * term. Members apply a snapshot only if it is newer than the last applied
 * one ({@link isNewerSnapshot}), so stale or duplicate snapshots are ignored.
 */
export const membershipSnapshotSchema = z
  .object({
    epoch: z.number().int().nonnegative(),
    seq: z.number().int().nonnegative(),
    /** Id of the manager that published it. */
    manager: z.string().min(1).max(128),
    /** Wall-clock publication time in ms. */
    at: z.number().int().nonnegative(),
    members: z.array(entitySchema).max(MAX_MEMBERS),
  })
  .strict();

export type MembershipSnapshot = z.infer<typeof membershipSnapshotSchema>;

export function isNewerSnapshot(candidate: Pick<MembershipSnapshot, "epoch" | "seq">, current: Pick<MembershipSnapshot, "epoch" | "seq"> | undefined): boolean {
  if (!current) return true;
  return candidate.epoch > current.epoch || (candidate.epoch === current.epoch && candidate.seq > current.seq);
}
