import { z } from "zod";
import { entitySchema } from "./entity.js";
import { MAX_MEMBERS } from "./options.js";

/**
 * A whole membership at one version, as a member holds it (the
 * `MembershipFeed` keeps it up to date from the active manager's deltas and
 * tables; it is no longer sent as such, see membership-codec.ts).
 *
 * Ordering: versions are totally ordered by `(epoch, seq)`. `epoch` is the
 * manager term (bumped by every takeover), `seq` counts changes within a
 * term ({@link isNewerSnapshot}).
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
