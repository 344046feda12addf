/**
 * The provisioning service: every change validated, made in one
 * transaction on the primary together with its audit record, and announced
 * to the nodes through the injected {@link ChangePublisher} only after the
 * commit. Reads go through the cluster, so they survive a primary outage.
 */
import { AsyncLocalStorage } from "node:async_hooks";
import { createHash } from "node:crypto";
import { describeError, type Logger } from "../base/index.js";
import {
  constraintKind,
  countAccounts,
  DbNotConfiguredError,
  DbPrimaryDownError,
  DbUnavailableError,
  deleteAccount,
  deleteAlias,
  deleteDomain,
  deleteTrustedPeer,
  getAccount,
  getAccountId,
  getAlias,
  getDomain,
  insertAccount,
  insertAlias,
  insertAudit,
  insertDomain,
  insertTrustedPeer,
  listAccounts,
  listAliases,
  listAudit,
  listDomains,
  listTrustedPeers,
  NO_FEATURES,
  updateAccount,
  updateDomain,
  type AccountPatch,
  type AccountRecord,
  type AliasKind,
  type AliasRecord,
  type AuditRecord,
  type CallFeatures,
  type DatabaseCluster,
  type DomainRecord,
  type Executor,
  type Page,
  type TrustedPeerRecord,
  appendChange,
  pruneChanges,
} from "../db/index.js";
import { changeChannel } from "./diagnostics.js";
import { ConflictError, NotFoundError, ProvisioningError, ReadOnlyError, UnavailableError, UnknownReferenceError, ValidationError } from "./errors.js";
import { DEFAULT_PAGE_LIMIT } from "./options.js";
import { E164, parseAor, type AccountCreate, type AccountPatchInput, type AliasCreate, type DomainCreate, type DomainPatchInput, type FeaturesInput, type ImportInput, type TrustedPeerCreate } from "./schemas.js";

/** What the nodes are told after a commit (the role publishes it on `Thor.Provisioning`). */
export interface ChangeNotice {
  aors: string[];
  domains?: string[];
  trustedPeers?: boolean;
}

export interface ChangePublisher {
  /** Tell the nodes; false when it is known not to have reached them (no event server took it). */
  publish(change: ChangeNotice & { seq: number }): boolean | void;
}

/**
 * What became of the change a request made: its number in the change log
 * and whether the nodes were told at once. A change that was not told
 * (event bus down) is still committed: the nodes read it from the change
 * log within their poll interval.
 */
export interface ChangeReceipt {
  seq?: number;
  notified?: boolean;
}

/** Changes older than this are pruned from the change log; a node that could not read it for half as long reloads everything. @default 24 h */
export const CHANGE_LOG_RETENTION_MS = 24 * 3600_000;
/** At most one prune per this interval. */
const PRUNE_EVERY_MS = 60_000;

export interface ProvisioningServiceOptions {
  cluster: DatabaseCluster;
  publisher?: ChangePublisher;
  logger: Logger;
}

export interface PageInput {
  limit?: number | undefined;
  offset?: number | undefined;
}

const md5 = (s: string) => createHash("md5").update(s).digest("hex");
const sha256 = (s: string) => createHash("sha256").update(s).digest("hex");

/**
 * An account as the API shows it: everything but HA1. HA1 is
 * password-equivalent for digest authentication, so it never leaves the
 * database through the API or the CLI; SIP nodes read it from the database
 * themselves (their subscriber cache) or from a holder over the control link.
 */
export type AccountView = Omit<AccountRecord, "ha1">;

export function accountView(a: AccountRecord): AccountView {
  const { ha1: _ha1, ...view } = a;
  return view;
}

/** HA1 = H(username:realm:password); the realm is the account's domain. */
export function ha1Of(username: string, domain: string, password: string): { md5: string; sha256: string } {
  const s = `${username}:${domain}:${password}`;
  return { md5: md5(s), sha256: sha256(s) };
}

function page(p: PageInput): { limit: number; offset: number } {
  return { limit: p.limit ?? DEFAULT_PAGE_LIMIT, offset: p.offset ?? 0 };
}

function mergeFeatures(base: CallFeatures, f: FeaturesInput | undefined): CallFeatures {
  if (!f) return base;
  const out: CallFeatures = { ...base };
  for (const [k, v] of Object.entries(f) as Array<[keyof CallFeatures, never]>) if (v !== undefined) out[k] = v;
  return out;
}

export class ProvisioningService {
  private readonly cluster: DatabaseCluster;
  private readonly log: Logger;
  private prunedAt = 0;
  /** Run a request inside `receipts.run({}, ...)` to learn what became of the change it made. */
  readonly receipts = new AsyncLocalStorage<ChangeReceipt>();

  constructor(private readonly opts: ProvisioningServiceOptions) {
    this.cluster = opts.cluster;
    this.log = opts.logger;
  }

  // ------------------------------------------------------------ domains

  async createDomain(actor: string, input: DomainCreate): Promise<DomainRecord> {
    return this.write({ domains: [input.name], aors: [] }, async (db) => {
      const d = await this.guard(() => insertDomain(db, { name: input.name, enabled: input.enabled ?? true, description: input.description ?? null }), `domain ${input.name} exists already`);
      await insertAudit(db, { actor, action: "create", entity: "domain", key: input.name, detail: { enabled: d.enabled } });
      return d;
    });
  }

  async getDomain(name: string): Promise<DomainRecord> {
    const d = await this.read((db) => getDomain(db, name.toLowerCase()));
    if (!d) throw new NotFoundError(`no domain ${name}`);
    return d;
  }

  listDomains(p: PageInput & { q?: string | undefined }): Promise<Page<DomainRecord>> {
    return this.read((db) => listDomains(db, page(p), p.q ? { q: p.q } : {}));
  }

  async updateDomain(actor: string, name: string, patch: DomainPatchInput): Promise<DomainRecord> {
    const key = name.toLowerCase();
    return this.write({ domains: [key], aors: [] }, async (db) => {
      if (!(await updateDomain(db, key, patch))) throw new NotFoundError(`no domain ${name}`);
      await insertAudit(db, { actor, action: "update", entity: "domain", key, detail: patch });
      return (await getDomain(db, key))!;
    });
  }

  async deleteDomain(actor: string, name: string): Promise<void> {
    const key = name.toLowerCase();
    await this.write({ domains: [key], aors: [] }, async (db) => {
      const n = await countAccounts(db, key);
      if (n > 0) throw new ConflictError(`domain ${key} still has ${n} account(s): delete them first`);
      if (!(await deleteDomain(db, key))) throw new NotFoundError(`no domain ${name}`);
      await insertAudit(db, { actor, action: "delete", entity: "domain", key });
    });
  }

  // ------------------------------------------------------------ accounts

  async createAccount(actor: string, input: AccountCreate): Promise<AccountView> {
    const aor = `${input.username}@${input.domain}`;
    return accountView(await this.write({ aors: [aor] }, (db) => this.insertAccountIn(db, actor, input)));
  }

  private async insertAccountIn(db: Executor, actor: string, input: AccountCreate, where = ""): Promise<AccountRecord> {
    const aor = `${input.username}@${input.domain}`;
    const domain = await getDomain(db, input.domain);
    if (!domain) throw new UnknownReferenceError(`${where}domain ${input.domain} does not exist: create it first`, [{ path: `${where}domain`, message: "unknown domain" }]);
    const acc = await this.guard(
      () =>
        insertAccount(db, {
          username: input.username,
          domain: input.domain,
          ha1: ha1Of(input.username, input.domain, input.password),
          displayName: input.displayName ?? null,
          enabled: input.enabled ?? true,
          blocked: input.blocked ?? false,
          maxCalls: input.maxCalls ?? null,
          quota: input.quota ?? null,
          groups: input.groups ?? [],
          properties: input.properties ?? {},
          features: mergeFeatures({ ...NO_FEATURES, blockIncoming: [], blockOutgoing: [] }, input.features),
        }),
      `${where}account ${aor} exists already`,
    );
    await insertAudit(db, { actor, action: "create", entity: "account", key: aor, detail: { blocked: acc.blocked, enabled: acc.enabled } });
    return acc;
  }

  async getAccount(aor: string): Promise<AccountView> {
    const { username, domain } = this.aor(aor);
    const a = await this.read((db) => getAccount(db, username, domain));
    if (!a) throw new NotFoundError(`no account ${aor}`);
    return accountView(a);
  }

  listAccounts(p: PageInput & { domain?: string | undefined; q?: string | undefined; enabled?: boolean | undefined; blocked?: boolean | undefined; group?: string | undefined }): Promise<Page<AccountView>> {
    const f: Parameters<typeof listAccounts>[2] = {};
    if (p.domain !== undefined) f.domain = p.domain;
    if (p.q !== undefined) f.q = p.q;
    if (p.enabled !== undefined) f.enabled = p.enabled;
    if (p.blocked !== undefined) f.blocked = p.blocked;
    if (p.group !== undefined) f.group = p.group;
    return this.read(async (db) => {
      const r = await listAccounts(db, page(p), f);
      return { ...r, items: r.items.map(accountView) };
    });
  }

  async updateAccount(actor: string, aor: string, patch: AccountPatchInput): Promise<AccountView> {
    const { username, domain } = this.aor(aor);
    const key = `${username}@${domain}`;
    return this.write({ aors: [key] }, async (db) => {
      const current = await getAccount(db, username, domain);
      const id = await getAccountId(db, username, domain);
      if (!current || id === undefined) throw new NotFoundError(`no account ${key}`);
      const p: AccountPatch = {};
      if (patch.password !== undefined) p.ha1 = ha1Of(username, domain, patch.password);
      if (patch.displayName !== undefined) p.displayName = patch.displayName;
      if (patch.enabled !== undefined) p.enabled = patch.enabled;
      if (patch.blocked !== undefined) p.blocked = patch.blocked;
      if (patch.maxCalls !== undefined) p.maxCalls = patch.maxCalls;
      if (patch.quota !== undefined) p.quota = patch.quota;
      if (patch.groups !== undefined) p.groups = patch.groups;
      if (patch.properties !== undefined) p.properties = patch.properties;
      if (patch.features !== undefined) p.features = mergeFeatures(current.features, patch.features);
      await updateAccount(db, id, p);
      const { password, ...rest } = patch;
      await insertAudit(db, { actor, action: "update", entity: "account", key, detail: { ...rest, ...(password !== undefined ? { password: "(changed)" } : {}) } });
      return accountView((await getAccount(db, username, domain))!);
    });
  }

  async deleteAccount(actor: string, aor: string): Promise<void> {
    const { username, domain } = this.aor(aor);
    const key = `${username}@${domain}`;
    await this.write({ aors: [key] }, async (db) => {
      const id = await getAccountId(db, username, domain);
      if (id === undefined) throw new NotFoundError(`no account ${key}`);
      const aliases = await deleteAccount(db, id);
      await insertAudit(db, { actor, action: "delete", entity: "account", key, detail: aliases.length ? { aliases: aliases.map((a) => a.alias) } : undefined });
    });
  }

  // ------------------------------------------------------------ aliases

  async createAlias(actor: string, input: AliasCreate): Promise<AliasRecord> {
    const target = this.aor(input.account, "account");
    const account = `${target.username}@${target.domain}`;
    return this.write({ aors: [account] }, (db) => this.insertAliasIn(db, actor, input));
  }

  private async insertAliasIn(db: Executor, actor: string, input: AliasCreate, where = ""): Promise<AliasRecord> {
    const target = this.aor(input.account, `${where}account`);
    const kind: AliasKind = input.kind ?? "alias";
    const alias = this.aliasAor(kind, input.alias, target.domain, `${where}alias`);
    const id = await getAccountId(db, target.username, target.domain);
    if (id === undefined) throw new UnknownReferenceError(`${where}account ${input.account} does not exist`, [{ path: `${where}account`, message: "unknown account" }]);
    if (await getAccountId(db, alias.username, alias.domain)) throw new ConflictError(`${where}${alias.username}@${alias.domain} is an account: an alias cannot shadow it`);
    const createdAt = await this.guard(() => insertAlias(db, { kind, username: alias.username, domain: alias.domain, accountId: id }), `${where}alias ${alias.username}@${alias.domain} exists already`);
    const rec: AliasRecord = { kind, alias: `${alias.username}@${alias.domain}`, account: `${target.username}@${target.domain}`, createdAt };
    await insertAudit(db, { actor, action: "create", entity: "alias", key: rec.alias, detail: { account: rec.account, kind } });
    return rec;
  }

  async getAlias(alias: string): Promise<AliasRecord> {
    const a = this.aor(alias, "alias");
    const r = await this.read((db) => getAlias(db, a.username, a.domain));
    if (!r) throw new NotFoundError(`no alias ${alias}`);
    return r;
  }

  async listAliases(p: PageInput & { domain?: string | undefined; account?: string | undefined; kind?: AliasKind | undefined }): Promise<Page<AliasRecord>> {
    return this.read(async (db) => {
      const f: { domain?: string; accountId?: number; kind?: AliasKind } = {};
      if (p.domain !== undefined) f.domain = p.domain;
      if (p.kind !== undefined) f.kind = p.kind;
      if (p.account !== undefined) {
        const a = this.aor(p.account, "account");
        const id = await getAccountId(db, a.username, a.domain);
        if (id === undefined) return { items: [], total: 0, ...page(p) };
        f.accountId = id;
      }
      return listAliases(db, page(p), f);
    });
  }

  async deleteAlias(actor: string, alias: string): Promise<void> {
    const a = this.aor(alias, "alias");
    const key = `${a.username}@${a.domain}`;
    const existing = await this.read((db) => getAlias(db, a.username, a.domain)).catch(() => undefined);
    await this.write({ aors: existing ? [existing.account] : [] }, async (db) => {
      const rec = await getAlias(db, a.username, a.domain);
      if (!rec) throw new NotFoundError(`no alias ${key}`);
      await deleteAlias(db, a.username, a.domain);
      await insertAudit(db, { actor, action: "delete", entity: "alias", key, detail: { account: rec.account } });
    });
  }

  // ------------------------------------------------------------ trusted peers

  async createTrustedPeer(actor: string, input: TrustedPeerCreate): Promise<TrustedPeerRecord> {
    return this.write({ aors: [], trustedPeers: true }, async (db) => {
      const p = await this.guard(() => insertTrustedPeer(db, { cidr: input.cidr, description: input.description ?? null }), `trusted peer ${input.cidr} exists already`);
      await insertAudit(db, { actor, action: "create", entity: "trusted_peer", key: input.cidr });
      return p;
    });
  }

  listTrustedPeers(p: PageInput): Promise<Page<TrustedPeerRecord>> {
    return this.read((db) => listTrustedPeers(db, page(p)));
  }

  async deleteTrustedPeer(actor: string, id: number): Promise<void> {
    await this.write({ aors: [], trustedPeers: true }, async (db) => {
      const p = await deleteTrustedPeer(db, id);
      if (!p) throw new NotFoundError(`no trusted peer ${id}`);
      await insertAudit(db, { actor, action: "delete", entity: "trusted_peer", key: p.cidr });
    });
  }

  // ------------------------------------------------------------ bulk import, audit

  /** Create domains, then accounts, then aliases, in one transaction: all or nothing. */
  async importAll(actor: string, input: ImportInput): Promise<{ domains: number; accounts: number; aliases: number }> {
    const aors = (input.accounts ?? []).map((a) => `${a.username}@${a.domain}`);
    for (const al of input.aliases ?? []) {
      const t = parseAor(al.account);
      if (t) aors.push(`${t.username}@${t.domain}`);
    }
    const domains = (input.domains ?? []).map((d) => d.name);
    return this.write({ aors, domains }, async (db) => {
      for (const [i, d] of (input.domains ?? []).entries()) {
        await this.guard(() => insertDomain(db, { name: d.name, enabled: d.enabled ?? true, description: d.description ?? null }), `domains.${i}: domain ${d.name} exists already`);
      }
      for (const [i, a] of (input.accounts ?? []).entries()) await this.insertAccountIn(db, actor, a, `accounts.${i}: `);
      for (const [i, al] of (input.aliases ?? []).entries()) await this.insertAliasIn(db, actor, al, `aliases.${i}: `);
      const counts = { domains: input.domains?.length ?? 0, accounts: input.accounts?.length ?? 0, aliases: input.aliases?.length ?? 0 };
      await insertAudit(db, { actor, action: "import", entity: "bulk", key: "-", detail: counts });
      return counts;
    });
  }

  listAudit(p: PageInput & { entity?: string | undefined; key?: string | undefined }): Promise<Page<AuditRecord>> {
    const f: { entity?: string; key?: string } = {};
    if (p.entity) f.entity = p.entity;
    if (p.key) f.key = p.key;
    return this.read((db) => listAudit(db, page(p), f));
  }

  /**
   * What `/v1/health` shows of the databases: whether one is configured and
   * the primary is up, how many secondaries, where the last read went. No
   * URI: the health route needs no token, and a URI names hosts and users.
   */
  databaseHealth(): { configured: boolean; primaryUp: boolean; secondaries: number; lastRead: "primary" | "secondary" | undefined } {
    const st = this.cluster.state();
    return { configured: st.primary !== undefined, primaryUp: st.primaryUp, secondaries: st.secondaries.length, lastRead: st.lastRead };
  }

  // ------------------------------------------------------------ plumbing

  private aor(text: string, what = "account"): { username: string; domain: string } {
    const a = parseAor(text);
    if (!a) throw new ValidationError(`"${text}" is not a valid ${what} address (user@domain, user part: letters, digits and . _ ~ + -)`, [{ path: what, message: "expected user@domain" }]);
    return a;
  }

  private aliasAor(kind: AliasKind, text: string, accountDomain: string, path: string): { username: string; domain: string } {
    if (kind === "did") {
      const at = text.lastIndexOf("@");
      const number = at < 0 ? text : text.slice(0, at);
      const domain = at < 0 ? accountDomain : text.slice(at + 1).toLowerCase();
      if (!E164.test(number)) throw new ValidationError(`"${number}" is not an E.164 number (+ then 7-15 digits)`, [{ path, message: "expected +E.164" }]);
      const a = parseAor(`${number}@${domain}`);
      if (!a) throw new ValidationError(`"${text}" is not a valid DID`, [{ path, message: "expected +E.164[@domain]" }]);
      return a;
    }
    return this.aor(text, path);
  }

  /** Map a constraint failure of `fn` to a 409 / 422 with `message`. */
  private async guard<T>(fn: () => Promise<T>, conflict: string): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      const kind = constraintKind(err);
      if (kind === "unique") throw new ConflictError(conflict, undefined, { cause: err });
      if (kind === "foreign-key") throw new UnknownReferenceError(`${conflict.replace(/ exists already$/, "")}: refers to something that does not exist`, undefined, { cause: err });
      throw err;
    }
  }

  private async read<T>(fn: (db: Executor) => Promise<T>): Promise<T> {
    try {
      return await this.cluster.read(fn);
    } catch (err) {
      throw this.mapDbError(err);
    }
  }

  /**
   * Run `fn` in a transaction that also appends `change` to the change log,
   * then tell the nodes. The request's receipt (see `receipts`) gets the
   * change's number and whether the nodes were told.
   */
  private async write<T>(change: ChangeNotice, fn: (db: Executor) => Promise<T>): Promise<T> {
    const logged = change.aors.length > 0 || (change.domains?.length ?? 0) > 0 || change.trustedPeers === true;
    let result: T;
    let seq = 0;
    try {
      result = await this.cluster.write(async (db) => {
        const r = await fn(db);
        if (logged) seq = await appendChange(db, change, new Date());
        return r;
      });
    } catch (err) {
      throw this.mapDbError(err);
    }
    if (logged) {
      const notified = this.announce({ ...change, seq });
      const receipt = this.receipts.getStore();
      if (receipt) Object.assign(receipt, { seq, notified });
      void this.prune();
    }
    return result;
  }

  /** Whether the nodes were told (false: they read it from the change log). */
  private announce(change: ChangeNotice & { seq: number }): boolean {
    if (!this.opts.publisher) return false;
    try {
      const sent = this.opts.publisher.publish(change) !== false;
      changeChannel.publish({ aors: change.aors.length, domains: change.domains?.length ?? 0 });
      if (!sent) this.log.warn({ seq: change.seq, aors: change.aors.length }, "event bus down: the committed change reaches the nodes through the change log");
      return sent;
    } catch (err) {
      this.log.warn({ err: describeError(err) }, "could not announce a committed change (the nodes read it from the change log)");
      return false;
    }
  }

  private async prune(): Promise<void> {
    const now = Date.now();
    if (now - this.prunedAt < PRUNE_EVERY_MS) return;
    this.prunedAt = now;
    try {
      const n = await this.cluster.write((db) => pruneChanges(db, new Date(now - CHANGE_LOG_RETENTION_MS)));
      if (n > 0) this.log.info({ pruned: n }, "old changes pruned from the change log");
    } catch (err) {
      this.log.warn({ err: describeError(err) }, "could not prune the change log");
    }
  }

  private mapDbError(err: unknown): unknown {
    if (err instanceof ProvisioningError) return err;
    if (err instanceof DbPrimaryDownError) return new ReadOnlyError(err.message, undefined, { cause: err });
    if (err instanceof DbUnavailableError || err instanceof DbNotConfiguredError) return new UnavailableError(err.message, undefined, { cause: err });
    const kind = constraintKind(err);
    if (kind === "unique") return new ConflictError("the entity exists already", undefined, { cause: err });
    if (kind === "foreign-key") return new UnknownReferenceError("the change refers to something that does not exist or is still in use", undefined, { cause: err });
    return err;
  }
}
