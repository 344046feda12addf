/**
 * Repositories of XCAP documents (RFC 4825): whole documents addressed by
 * application usage, user and name, each with the entity tag of its
 * current version. Writes are conditional on that tag, so two XCAP
 * servers changing one document at once cannot lose either change: the
 * later one finds the tag moved and retries or fails.
 */
import type { XcapDocumentKey, XcapDocumentRecord } from "./records.js";
import type { Executor } from "./store.js";

const nowIso = () => new Date().toISOString();

export async function getXcapDocument(db: Executor, key: XcapDocumentKey): Promise<XcapDocumentRecord | undefined> {
  const r = await db
    .selectFrom("xcap_documents")
    .select(["auid", "xui", "name", "etag", "doc", "updated_at"])
    .where((eb) => eb.and({ auid: key.auid, xui: key.xui, name: key.name }))
    .executeTakeFirst();
  return r ? { auid: r.auid, xui: r.xui, name: r.name, etag: r.etag, doc: r.doc, updatedAt: r.updated_at } : undefined;
}

/** Create a document; a unique-constraint error when it exists already. */
export async function insertXcapDocument(db: Executor, key: XcapDocumentKey, doc: string, etag: string): Promise<void> {
  await db
    .insertInto("xcap_documents")
    .values({ auid: key.auid, xui: key.xui, name: key.name, etag, doc, size: Buffer.byteLength(doc), updated_at: nowIso() })
    .execute();
}

/** Replace a document whose current tag is `ifEtag`; false when it is gone or its tag moved. */
export async function replaceXcapDocument(db: Executor, key: XcapDocumentKey, doc: string, etag: string, ifEtag: string): Promise<boolean> {
  const r = await db
    .updateTable("xcap_documents")
    .set({ doc, etag, size: Buffer.byteLength(doc), updated_at: nowIso() })
    .where((eb) => eb.and({ auid: key.auid, xui: key.xui, name: key.name, etag: ifEtag }))
    .executeTakeFirst();
  return Number(r.numUpdatedRows) > 0;
}

/** Delete a document whose current tag is `ifEtag`; false when it is gone or its tag moved. */
export async function deleteXcapDocument(db: Executor, key: XcapDocumentKey, ifEtag: string): Promise<boolean> {
  const r = await db
    .deleteFrom("xcap_documents")
    .where((eb) => eb.and({ auid: key.auid, xui: key.xui, name: key.name, etag: ifEtag }))
    .executeTakeFirst();
  return Number(r.numDeletedRows) > 0;
}

/** Documents and bytes a user holds, over every application usage. */
export async function xcapUsage(db: Executor, xui: string): Promise<{ documents: number; bytes: number }> {
  const r = await db
    .selectFrom("xcap_documents")
    .select((eb) => [eb.fn.countAll<number | string>().as("n"), eb.fn.sum<number | string | null>("size").as("bytes")])
    .where("xui", "=", xui)
    .executeTakeFirstOrThrow();
  return { documents: Number(r.n), bytes: Number(r.bytes ?? 0) };
}

/** The documents of a user (usage, name, tag), at most `limit` (xcap-diff's full state). */
export async function listXcapDocuments(db: Executor, xui: string, limit = 256): Promise<Array<{ auid: string; name: string; etag: string }>> {
  return db.selectFrom("xcap_documents").select(["auid", "name", "etag"]).where("xui", "=", xui).orderBy("auid").orderBy("name").limit(limit).execute();
}
