/**
 * Repositories: every query of the provisioning data, written once in
 * Kysely for both dialects. Each function takes the executor (a database or
 * an open transaction) so callers decide what is atomic.
 */
import type { Kysely, Selectable } from "kysely";
import type { AccountRecord, AliasKind, AliasRecord, AuditRecord, CallFeatures, DomainRecord, Page, PropertyValue, SubscriberRecord, TrustedPeerRecord } from "./records.js";
import { NO_FEATURES } from "./records.js";
import type { AccountTable, CallFeaturesTable, ProvisioningSchema } from "./schema.js";

export type Executor = Kysely<ProvisioningSchema>;

const b = (v: boolean) => (v ? 1 : 0);
const nowIso = () => new Date().toISOString();

function json<T>(text: string | null | undefined, fallback: T): T {
  if (!text) return fallback;
  // Most rows hold empty lists and maps: skip the parser for them (cache loads scan every row).
  if (text === "[]") return [] as T;
  if (text === "{}") return {} as T;
  try {
    return JSON.parse(text) as T;
  } catch {
    return fallback;
  }
}

type FeatureRow = Partial<Selectable<CallFeaturesTable>>;

function toFeatures(r: FeatureRow | undefined): CallFeatures {
  if (!r || r.account_id === undefined || r.account_id === null) return { ...NO_FEATURES, blockIncoming: [], blockOutgoing: [] };
  return {
    forwardUnconditional: r.forward_unconditional ?? null,
    forwardBusy: r.forward_busy ?? null,
    forwardNoAnswer: r.forward_no_answer ?? null,
    forwardNoAnswerTimeout: r.forward_no_answer_timeout ?? null,
    forwardUnavailable: r.forward_unavailable ?? null,
    dnd: Number(r.dnd ?? 0) === 1,
    blockIncoming: json<string[]>(r.block_incoming, []),
    blockOutgoing: json<string[]>(r.block_outgoing, []),
  };
}

function featureColumns(f: CallFeatures): Omit<CallFeaturesTable, "account_id" | "updated_at"> {
  return {
    forward_unconditional: f.forwardUnconditional,
    forward_busy: f.forwardBusy,
    forward_no_answer: f.forwardNoAnswer,
    forward_no_answer_timeout: f.forwardNoAnswerTimeout,
    forward_unavailable: f.forwardUnavailable,
    dnd: b(f.dnd),
    block_incoming: JSON.stringify(f.blockIncoming),
    block_outgoing: JSON.stringify(f.blockOutgoing),
  };
}

function toAccount(r: Selectable<AccountTable> & FeatureRow): AccountRecord {
  return {
    username: r.username,
    domain: r.domain,
    ha1: { md5: r.ha1_md5, sha256: r.ha1_sha256 },
    displayName: r.display_name,
    enabled: Number(r.enabled) === 1,
    blocked: Number(r.blocked) === 1,
    maxCalls: r.max_calls === null ? null : Number(r.max_calls),
    quota: r.quota === null ? null : Number(r.quota),
    groups: json<string[]>(r.groups, []),
    properties: json<Record<string, PropertyValue>>(r.properties, {}),
    features: toFeatures(r),
    createdAt: r.created_at,
    updatedAt: r.updated_at,
  };
}

function toDomain(r: { name: string; enabled: number; description: string | null; created_at: string; updated_at: string }): DomainRecord {
  return { name: r.name, enabled: Number(r.enabled) === 1, description: r.description, createdAt: r.created_at, updatedAt: r.updated_at };
}

export interface PageRequest {
  limit: number;
  offset: number;
}

// ---------------------------------------------------------------- domains

export async function insertDomain(db: Executor, d: { name: string; enabled: boolean; description: string | null }): Promise<DomainRecord> {
  const at = nowIso();
  await db.insertInto("domains").values({ name: d.name, enabled: b(d.enabled), description: d.description, created_at: at, updated_at: at }).execute();
  return { ...d, createdAt: at, updatedAt: at };
}

export async function getDomain(db: Executor, name: string): Promise<DomainRecord | undefined> {
  const r = await db.selectFrom("domains").selectAll().where("name", "=", name).executeTakeFirst();
  return r ? toDomain(r) : undefined;
}

export async function listDomains(db: Executor, page: PageRequest, filter: { q?: string } = {}): Promise<Page<DomainRecord>> {
  let q = db.selectFrom("domains");
  if (filter.q) q = q.where("name", "like", `%${escapeLike(filter.q).toLowerCase()}%`);
  const [rows, count] = await Promise.all([
    q.selectAll().orderBy("name").limit(page.limit).offset(page.offset).execute(),
    q.select((eb) => eb.fn.countAll<number | string>().as("n")).executeTakeFirstOrThrow(),
  ]);
  return { items: rows.map(toDomain), total: Number(count.n), ...page };
}

export async function updateDomain(db: Executor, name: string, patch: { enabled?: boolean; description?: string | null }): Promise<boolean> {
  const set: { updated_at: string; enabled?: number; description?: string | null } = { updated_at: nowIso() };
  if (patch.enabled !== undefined) set.enabled = b(patch.enabled);
  if (patch.description !== undefined) set.description = patch.description;
  const r = await db.updateTable("domains").set(set).where("name", "=", name).executeTakeFirst();
  return Number(r.numUpdatedRows) > 0;
}

export async function deleteDomain(db: Executor, name: string): Promise<boolean> {
  const r = await db.deleteFrom("domains").where("name", "=", name).executeTakeFirst();
  return Number(r.numDeletedRows) > 0;
}

export async function countAccounts(db: Executor, domain?: string): Promise<number> {
  let q = db.selectFrom("accounts");
  if (domain !== undefined) q = q.where("domain", "=", domain);
  const r = await q.select((eb) => eb.fn.countAll<number | string>().as("n")).executeTakeFirstOrThrow();
  return Number(r.n);
}

// ---------------------------------------------------------------- accounts

/** An account as written: everything but the timestamps the store sets. */
export type NewAccount = Omit<AccountRecord, "createdAt" | "updatedAt">;

export async function insertAccount(db: Executor, a: NewAccount): Promise<AccountRecord> {
  const at = nowIso();
  const row = await db
    .insertInto("accounts")
    .values({
      username: a.username,
      domain: a.domain,
      ha1_md5: a.ha1.md5,
      ha1_sha256: a.ha1.sha256,
      display_name: a.displayName,
      enabled: b(a.enabled),
      blocked: b(a.blocked),
      max_calls: a.maxCalls,
      quota: a.quota,
      groups: JSON.stringify(a.groups),
      properties: JSON.stringify(a.properties),
      created_at: at,
      updated_at: at,
    })
    .returning("id")
    .executeTakeFirstOrThrow();
  await db.insertInto("call_features").values({ account_id: Number(row.id), ...featureColumns(a.features), updated_at: at }).execute();
  return { ...a, createdAt: at, updatedAt: at };
}

function accountQuery(db: Executor) {
  return db.selectFrom("accounts").leftJoin("call_features", "call_features.account_id", "accounts.id").selectAll("accounts").select([
    "call_features.account_id",
    "call_features.forward_unconditional",
    "call_features.forward_busy",
    "call_features.forward_no_answer",
    "call_features.forward_no_answer_timeout",
    "call_features.forward_unavailable",
    "call_features.dnd",
    "call_features.block_incoming",
    "call_features.block_outgoing",
  ]);
}

export async function getAccountId(db: Executor, username: string, domain: string): Promise<number | undefined> {
  const r = await db.selectFrom("accounts").select("id").where("username", "=", username).where("domain", "=", domain).executeTakeFirst();
  return r ? Number(r.id) : undefined;
}

export async function getAccount(db: Executor, username: string, domain: string): Promise<AccountRecord | undefined> {
  const r = await accountQuery(db).where("accounts.username", "=", username).where("accounts.domain", "=", domain).executeTakeFirst();
  return r ? toAccount(r as Selectable<AccountTable> & FeatureRow) : undefined;
}

export interface AccountFilter {
  domain?: string;
  /** Substring of the username or display name. */
  q?: string;
  enabled?: boolean;
  blocked?: boolean;
  group?: string;
}

export async function listAccounts(db: Executor, page: PageRequest, f: AccountFilter = {}): Promise<Page<AccountRecord>> {
  let base = db.selectFrom("accounts");
  if (f.domain !== undefined) base = base.where("accounts.domain", "=", f.domain);
  if (f.enabled !== undefined) base = base.where("accounts.enabled", "=", b(f.enabled));
  if (f.blocked !== undefined) base = base.where("accounts.blocked", "=", b(f.blocked));
  if (f.q) {
    const like = `%${escapeLike(f.q).toLowerCase()}%`;
    base = base.where((eb) => eb.or([eb(eb.fn("lower", ["accounts.username"]), "like", like), eb(eb.fn("lower", ["accounts.display_name"]), "like", like)]));
  }
  if (f.group) base = base.where("accounts.groups", "like", `%${escapeLike(JSON.stringify(f.group))}%`);
  const ids = await base.select("accounts.id").orderBy("accounts.domain").orderBy("accounts.username").limit(page.limit).offset(page.offset).execute();
  const count = await base.select((eb) => eb.fn.countAll<number | string>().as("n")).executeTakeFirstOrThrow();
  const idList = ids.map((r) => Number(r.id));
  const rows = idList.length === 0 ? [] : await accountQuery(db).where("accounts.id", "in", idList).orderBy("accounts.domain").orderBy("accounts.username").execute();
  return { items: rows.map((r) => toAccount(r as Selectable<AccountTable> & FeatureRow)), total: Number(count.n), ...page };
}

export interface AccountPatch {
  ha1?: { md5: string; sha256: string };
  displayName?: string | null;
  enabled?: boolean;
  blocked?: boolean;
  maxCalls?: number | null;
  quota?: number | null;
  groups?: string[];
  properties?: Record<string, PropertyValue>;
  features?: CallFeatures;
}

export async function updateAccount(db: Executor, id: number, p: AccountPatch): Promise<void> {
  const at = nowIso();
  const set: Partial<Omit<AccountTable, "id">> = { updated_at: at };
  if (p.ha1) {
    set.ha1_md5 = p.ha1.md5;
    set.ha1_sha256 = p.ha1.sha256;
  }
  if (p.displayName !== undefined) set.display_name = p.displayName;
  if (p.enabled !== undefined) set.enabled = b(p.enabled);
  if (p.blocked !== undefined) set.blocked = b(p.blocked);
  if (p.maxCalls !== undefined) set.max_calls = p.maxCalls;
  if (p.quota !== undefined) set.quota = p.quota;
  if (p.groups !== undefined) set.groups = JSON.stringify(p.groups);
  if (p.properties !== undefined) set.properties = JSON.stringify(p.properties);
  await db.updateTable("accounts").set(set).where("id", "=", id).execute();
  if (p.features) {
    const cols = { ...featureColumns(p.features), updated_at: at };
    const r = await db.updateTable("call_features").set(cols).where("account_id", "=", id).executeTakeFirst();
    if (Number(r.numUpdatedRows) === 0) await db.insertInto("call_features").values({ account_id: id, ...cols }).execute();
  }
}

export async function deleteAccount(db: Executor, id: number): Promise<AliasRecord[]> {
  const acc = await db.selectFrom("accounts").select(["username", "domain"]).where("id", "=", id).executeTakeFirst();
  const aliases = await aliasesOf(db, new Map([[id, acc ? `${acc.username}@${acc.domain}` : ""]]));
  // Explicit deletes: cascades are declared too, but this does not rely on PRAGMA foreign_keys.
  await db.deleteFrom("aliases").where("account_id", "=", id).execute();
  await db.deleteFrom("call_features").where("account_id", "=", id).execute();
  await db.deleteFrom("accounts").where("id", "=", id).execute();
  return aliases.get(id) ?? [];
}

/**
 * One page of every account in id order, with features and aliases: what a
 * node scans to fill its subscriber cache (keyset paging, so memory stays
 * flat however many accounts there are).
 */
export async function scanSubscribers(db: Executor, afterId: number, limit: number, filter: { domain?: string } = {}): Promise<SubscriberRecord[]> {
  let q = accountQuery(db).where("accounts.id", ">", afterId);
  if (filter.domain !== undefined) q = q.where("accounts.domain", "=", filter.domain);
  const rows = await q.orderBy("accounts.id").limit(limit).execute();
  const aliases = await aliasesOf(db, new Map(rows.map((r) => [Number(r.id), `${r.username}@${r.domain}`])));
  return rows.map((r) => ({ ...toAccount(r as Selectable<AccountTable> & FeatureRow), id: Number(r.id), aliases: aliases.get(Number(r.id)) ?? [] }));
}

export async function getSubscriber(db: Executor, username: string, domain: string): Promise<SubscriberRecord | undefined> {
  const r = await accountQuery(db).where("accounts.username", "=", username).where("accounts.domain", "=", domain).executeTakeFirst();
  if (!r) return undefined;
  const id = Number(r.id);
  const aliases = await aliasesOf(db, new Map([[id, `${r.username}@${r.domain}`]]));
  return { ...toAccount(r as Selectable<AccountTable> & FeatureRow), id, aliases: aliases.get(id) ?? [] };
}

// ---------------------------------------------------------------- aliases

/** Aliases of these accounts (`id → user@domain`), grouped by account id; one query on the aliases table alone. */
async function aliasesOf(db: Executor, accounts: ReadonlyMap<number, string>): Promise<Map<number, AliasRecord[]>> {
  const out = new Map<number, AliasRecord[]>();
  if (accounts.size === 0) return out;
  const rows = await db
    .selectFrom("aliases")
    .select(["account_id", "kind", "username", "domain", "created_at"])
    .where("account_id", "in", [...accounts.keys()])
    .orderBy("id")
    .execute();
  for (const r of rows) {
    const id = Number(r.account_id);
    let list = out.get(id);
    if (!list) out.set(id, (list = []));
    list.push({ kind: r.kind as AliasKind, alias: `${r.username}@${r.domain}`, account: accounts.get(id) ?? "", createdAt: r.created_at });
  }
  return out;
}

export async function insertAlias(db: Executor, a: { kind: AliasKind; username: string; domain: string; accountId: number }): Promise<string> {
  const at = nowIso();
  await db.insertInto("aliases").values({ kind: a.kind, username: a.username, domain: a.domain, account_id: a.accountId, created_at: at }).execute();
  return at;
}

function aliasQuery(db: Executor) {
  return db
    .selectFrom("aliases")
    .innerJoin("accounts", "accounts.id", "aliases.account_id")
    .select(["aliases.id", "aliases.kind", "aliases.username", "aliases.domain", "aliases.created_at", "accounts.username as a_user", "accounts.domain as a_domain"]);
}

type AliasRow = { kind: string; username: string; domain: string; created_at: string; a_user: string; a_domain: string };
const toAlias = (r: AliasRow): AliasRecord => ({ kind: r.kind as AliasKind, alias: `${r.username}@${r.domain}`, account: `${r.a_user}@${r.a_domain}`, createdAt: r.created_at });

export async function getAlias(db: Executor, username: string, domain: string): Promise<AliasRecord | undefined> {
  const r = await aliasQuery(db).where("aliases.username", "=", username).where("aliases.domain", "=", domain).executeTakeFirst();
  return r ? toAlias(r) : undefined;
}

export async function listAliases(db: Executor, page: PageRequest, f: { domain?: string; accountId?: number; kind?: AliasKind } = {}): Promise<Page<AliasRecord>> {
  let q = aliasQuery(db);
  let c = db.selectFrom("aliases");
  if (f.domain !== undefined) {
    q = q.where("aliases.domain", "=", f.domain);
    c = c.where("aliases.domain", "=", f.domain);
  }
  if (f.accountId !== undefined) {
    q = q.where("aliases.account_id", "=", f.accountId);
    c = c.where("aliases.account_id", "=", f.accountId);
  }
  if (f.kind !== undefined) {
    q = q.where("aliases.kind", "=", f.kind);
    c = c.where("aliases.kind", "=", f.kind);
  }
  const rows = await q.orderBy("aliases.domain").orderBy("aliases.username").limit(page.limit).offset(page.offset).execute();
  const count = await c.select((eb) => eb.fn.countAll<number | string>().as("n")).executeTakeFirstOrThrow();
  return { items: rows.map(toAlias), total: Number(count.n), ...page };
}

export async function deleteAlias(db: Executor, username: string, domain: string): Promise<boolean> {
  const r = await db.deleteFrom("aliases").where("username", "=", username).where("domain", "=", domain).executeTakeFirst();
  return Number(r.numDeletedRows) > 0;
}

// ---------------------------------------------------------------- trusted peers

export async function insertTrustedPeer(db: Executor, p: { cidr: string; description: string | null }): Promise<TrustedPeerRecord> {
  const at = nowIso();
  const r = await db.insertInto("trusted_peers").values({ cidr: p.cidr, description: p.description, created_at: at }).returning("id").executeTakeFirstOrThrow();
  return { id: Number(r.id), cidr: p.cidr, description: p.description, createdAt: at };
}

export async function listTrustedPeers(db: Executor, page: PageRequest): Promise<Page<TrustedPeerRecord>> {
  const rows = await db.selectFrom("trusted_peers").selectAll().orderBy("id").limit(page.limit).offset(page.offset).execute();
  const count = await db.selectFrom("trusted_peers").select((eb) => eb.fn.countAll<number | string>().as("n")).executeTakeFirstOrThrow();
  return { items: rows.map((r) => ({ id: Number(r.id), cidr: r.cidr, description: r.description, createdAt: r.created_at })), total: Number(count.n), ...page };
}

export async function deleteTrustedPeer(db: Executor, id: number): Promise<TrustedPeerRecord | undefined> {
  const r = await db.selectFrom("trusted_peers").selectAll().where("id", "=", id).executeTakeFirst();
  if (!r) return undefined;
  await db.deleteFrom("trusted_peers").where("id", "=", id).execute();
  return { id: Number(r.id), cidr: r.cidr, description: r.description, createdAt: r.created_at };
}

// ---------------------------------------------------------------- audit

export async function insertAudit(db: Executor, e: { actor: string; action: string; entity: string; key: string; detail?: unknown }): Promise<void> {
  await db
    .insertInto("audit")
    .values({ at: nowIso(), actor: e.actor, action: e.action, entity: e.entity, key: e.key, detail: e.detail === undefined ? null : JSON.stringify(e.detail) })
    .execute();
}

export async function listAudit(db: Executor, page: PageRequest, f: { entity?: string; key?: string } = {}): Promise<Page<AuditRecord>> {
  let q = db.selectFrom("audit");
  if (f.entity) q = q.where("entity", "=", f.entity);
  if (f.key) q = q.where("key", "=", f.key);
  const rows = await q.selectAll().orderBy("id", "desc").limit(page.limit).offset(page.offset).execute();
  const count = await q.select((eb) => eb.fn.countAll<number | string>().as("n")).executeTakeFirstOrThrow();
  return {
    items: rows.map((r) => ({ id: Number(r.id), at: r.at, actor: r.actor, action: r.action, entity: r.entity, key: r.key, detail: json<unknown>(r.detail, null) })),
    total: Number(count.n),
    ...page,
  };
}

function escapeLike(s: string): string {
  return s.replace(/[\\%_]/g, "");
}
