/**
 * The subscribers a SIP node is responsible for, in memory: the node
 * answers digest challenges and checks account state without touching the
 * database on the call path. It structurally implements the SIP stack's
 * `CredentialStore` (`lookup(username, realm)` → HA1 per algorithm).
 *
 * `load(owns)` scans every account once (keyset pages) and keeps those the
 * node owns; `refresh(aors)` re-reads named accounts after a
 * `Thor.Provisioning` notice. A refresh that arrives while a load runs is
 * applied again after the load, so a load never undoes a newer change.
 */
import { describeError, type Logger } from "../base/index.js";
import { getSubscriber, scanSubscribers, type CallFeatures, type Executor, type PropertyValue, type SubscriberRecord } from "../db/index.js";
import { cacheChannel } from "./diagnostics.js";
import { DEFAULT_CACHE_PAGE } from "./options.js";
import { parseAor } from "./schemas.js";

/** Read access to the database (a `DatabaseCluster` fits). */
export interface SubscriberSource {
  read<T>(fn: (db: Executor) => Promise<T>): Promise<T>;
}

/** Same shape as `Credentials` of sip/auth (structural, so provisioning/ need not import sip/). */
export interface CachedCredentials {
  /** Blocked or disabled: the SIP side answers 403. */
  blocked: boolean;
  ha1: { MD5: string; "SHA-256": string };
}

export interface SubscriberState {
  aor: string;
  username: string;
  domain: string;
  displayName: string | null;
  enabled: boolean;
  /** Blocked: may authenticate, but every call is refused with 403. */
  blocked: boolean;
  maxCalls: number | null;
  groups: string[];
  properties: Record<string, PropertyValue>;
  features: CallFeatures;
  /** Aliases and DIDs (`user@domain`) mapping to this account. */
  aliases: string[];
}

export type CacheEvent = { type: "loaded"; accounts: number; scanned: number; ms: number } | { type: "refreshed"; aor: string; present: boolean };

export interface SubscriberCacheOptions {
  source: SubscriberSource;
  logger: Logger;
  /** @default 5000 */
  pageSize?: number;
}

interface Entry {
  state: SubscriberState;
  creds: CachedCredentials;
}

export class SubscriberCache {
  private entries = new Map<string, Entry>();
  private aliases = new Map<string, string>();
  private owns: (aor: string) => boolean = () => false;
  private loading: Set<string> | undefined;
  private readonly listeners = new Set<(e: CacheEvent) => void>();
  private readonly log: Logger;

  constructor(private readonly opts: SubscriberCacheOptions) {
    this.log = opts.logger;
  }

  get size(): number {
    return this.entries.size;
  }

  /** `CredentialStore.lookup`: HA1 values of an owned account, by username and realm (= domain). */
  lookup(username: string, realm: string): CachedCredentials | undefined {
    return this.entries.get(`${username}@${realm.toLowerCase()}`)?.creds;
  }

  /**
   * Credentials of any account: from memory when this node owns it (never
   * the database), else read from the database (an account another node
   * owns, reached through this one).
   */
  lookupAnywhere(username: string, realm: string): CachedCredentials | undefined | Promise<CachedCredentials | undefined> {
    const aor = `${username}@${realm.toLowerCase()}`;
    if (this.owns(aor)) return this.entries.get(aor)?.creds;
    const parts = parseAor(aor);
    if (!parts) return undefined;
    return this.opts.source.read((db) => getSubscriber(db, parts.username, parts.domain)).then(
      (s) => (s ? toEntry(s).creds : undefined),
      (err: unknown) => {
        this.log.warn({ aor, err: describeError(err) }, "could not read a subscriber owned by another node");
        return undefined;
      },
    );
  }

  /** Whether this node owns the account (as of the last load). */
  isOwned(aor: string): boolean {
    return this.owns(normalize(aor));
  }

  /** The state of an owned account (or undefined). */
  get(aor: string): SubscriberState | undefined {
    return this.entries.get(normalize(aor))?.state;
  }

  /** The account an alias or DID of an owned account maps to. */
  resolveAlias(aor: string): string | undefined {
    return this.aliases.get(normalize(aor));
  }

  aors(): IterableIterator<string> {
    return this.entries.keys();
  }

  onEvent(listener: (e: CacheEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /**
   * Load every account `owns` accepts, replacing the cache (accounts no
   * longer owned are dropped). Call at start, when a database is announced
   * and when the node's ring slice changes.
   */
  async load(owns: (aor: string) => boolean): Promise<{ accounts: number; scanned: number; ms: number }> {
    const t0 = performance.now();
    this.owns = owns;
    const pending = new Set<string>();
    this.loading = pending;
    const next = new Map<string, Entry>();
    const nextAliases = new Map<string, string>();
    let scanned = 0;
    try {
      let after = 0;
      const size = this.opts.pageSize ?? DEFAULT_CACHE_PAGE;
      for (;;) {
        const page = await this.opts.source.read((db) => scanSubscribers(db, after, size));
        for (const s of page) {
          scanned++;
          const aor = `${s.username}@${s.domain}`;
          if (!owns(aor)) continue;
          next.set(aor, toEntry(s));
          for (const a of s.aliases) nextAliases.set(a.alias, aor);
        }
        if (page.length < size) break;
        after = page[page.length - 1]!.id;
      }
    } finally {
      if (this.loading === pending) this.loading = undefined;
    }
    this.entries = next;
    this.aliases = nextAliases;
    if (pending.size > 0) await this.refresh([...pending]);
    const ms = performance.now() - t0;
    cacheChannel.publish({ event: "load", accounts: next.size, ms });
    this.emit({ type: "loaded", accounts: next.size, scanned, ms });
    this.log.info({ accounts: next.size, scanned, ms: Math.round(ms) }, "subscribers loaded");
    return { accounts: next.size, scanned, ms };
  }

  /** Re-read the named accounts (those this node owns) from the database. */
  async refresh(aors: readonly string[]): Promise<void> {
    const t0 = performance.now();
    let n = 0;
    for (const raw of aors) {
      const aor = normalize(raw);
      this.loading?.add(aor);
      if (!this.owns(aor)) {
        if (this.entries.has(aor)) this.remove(aor);
        continue;
      }
      const parts = parseAor(aor);
      if (!parts) continue;
      try {
        const s = await this.opts.source.read((db) => getSubscriber(db, parts.username, parts.domain));
        this.remove(aor);
        if (s) {
          const e = toEntry(s);
          this.entries.set(aor, e);
          for (const a of s.aliases) this.aliases.set(a.alias, aor);
        }
        n++;
        this.emit({ type: "refreshed", aor, present: s !== undefined });
      } catch (err) {
        this.log.warn({ aor, err: describeError(err) }, "could not refresh a subscriber");
      }
    }
    cacheChannel.publish({ event: "refresh", accounts: n, ms: performance.now() - t0 });
  }

  /** Reload every owned account of these domains (a domain-wide change). */
  async refreshDomains(domains: readonly string[]): Promise<void> {
    const want = new Set(domains.map((d) => d.toLowerCase()));
    const aors = [...this.entries.values()].filter((e) => want.has(e.state.domain)).map((e) => e.state.aor);
    for (const d of want) {
      let after = 0;
      for (;;) {
        const page = await this.opts.source.read((db) => scanSubscribers(db, after, this.opts.pageSize ?? DEFAULT_CACHE_PAGE, { domain: d }));
        for (const s of page) aors.push(`${s.username}@${s.domain}`);
        if (page.length < (this.opts.pageSize ?? DEFAULT_CACHE_PAGE)) break;
        after = page[page.length - 1]!.id;
      }
    }
    await this.refresh([...new Set(aors)]);
  }

  private remove(aor: string): void {
    const old = this.entries.get(aor);
    if (!old) return;
    this.entries.delete(aor);
    for (const a of old.state.aliases) if (this.aliases.get(a) === aor) this.aliases.delete(a);
  }

  private emit(e: CacheEvent): void {
    for (const l of this.listeners) l(e);
  }
}

function normalize(aor: string): string {
  const at = aor.lastIndexOf("@");
  return at < 0 ? aor : `${aor.slice(0, at)}@${aor.slice(at + 1).toLowerCase()}`;
}

function toEntry(s: SubscriberRecord): Entry {
  const aor = `${s.username}@${s.domain}`;
  return {
    state: {
      aor,
      username: s.username,
      domain: s.domain,
      displayName: s.displayName,
      enabled: s.enabled,
      blocked: s.blocked,
      maxCalls: s.maxCalls,
      groups: s.groups,
      properties: s.properties,
      features: s.features,
      aliases: s.aliases.map((a) => a.alias),
    },
    creds: { blocked: s.blocked || !s.enabled, ha1: { MD5: s.ha1.md5, "SHA-256": s.ha1.sha256 } },
  };
}
