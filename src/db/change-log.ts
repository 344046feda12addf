/**
 * The change log: every committed provisioning change is also a row here,
 * written in the change's own transaction, so a node that missed the
 * `Thor.Provisioning` notice (event bus down, a dropped link) reads it from
 * the database it already reads accounts from.
 */
import type { Executor } from "./store.js";

export interface ChangeRow {
  seq: number;
  at: string;
  aors: string[];
  domains: string[];
  trustedPeers: boolean;
}

export interface ChangeInput {
  aors: readonly string[];
  domains?: readonly string[] | undefined;
  trustedPeers?: boolean | undefined;
}

/** Append a change (inside the transaction that makes it); its sequence number. */
export async function appendChange(db: Executor, change: ChangeInput, at: Date): Promise<number> {
  const row = await db
    .insertInto("change_log")
    .values({ at: at.toISOString(), aors: JSON.stringify(change.aors), domains: JSON.stringify(change.domains ?? []), trusted_peers: change.trustedPeers ? 1 : 0 })
    .returning("seq")
    .executeTakeFirstOrThrow();
  return Number(row.seq);
}

/** Changes after `afterSeq`, oldest first, at most `limit`. */
export async function readChanges(db: Executor, afterSeq: number, limit: number): Promise<ChangeRow[]> {
  const rows = await db.selectFrom("change_log").selectAll().where("seq", ">", afterSeq).orderBy("seq").limit(limit).execute();
  return rows.map((r) => ({ seq: Number(r.seq), at: r.at, aors: parseList(r.aors), domains: parseList(r.domains), trustedPeers: r.trusted_peers === 1 }));
}

/** The newest sequence number (0 when the log is empty). */
export async function latestChange(db: Executor): Promise<number> {
  const row = await db.selectFrom("change_log").select((eb) => eb.fn.max("seq").as("seq")).executeTakeFirst();
  return Number(row?.seq ?? 0);
}

/** Drop the changes older than `before`; how many. */
export async function pruneChanges(db: Executor, before: Date): Promise<number> {
  const r = await db.deleteFrom("change_log").where("at", "<", before.toISOString()).executeTakeFirst();
  return Number(r.numDeletedRows);
}

function parseList(text: string): string[] {
  try {
    const v: unknown = JSON.parse(text);
    return Array.isArray(v) ? v.filter((x): x is string => typeof x === "string") : [];
  } catch {
    return [];
  }
}
