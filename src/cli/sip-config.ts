/**
 * SIP settings shared by `thor sip` and `thor node --roles sip_proxy`: the
 * users file, listener specs and the public-SIP limits.
 */
import { readFileSync } from "node:fs";
import { parse as parseToml } from "smol-toml";
import { z } from "zod";
import type { Command } from "commander";
import { canonicalHost, DEFAULT_CONNECTION_LIMITS, DEFAULT_MAX_CONTACTS, DEFAULT_MESSAGE_LIMITS, MemoryCredentialStore, parseListenSpec, type ConnectionLimits, type ListenSpec, type MessageLimits } from "../sip/index.js";
import { DEFAULT_MAX_SUBSCRIPTIONS_PER_WATCHER, DEFAULT_MAX_WATCHERS, type Handling, type PresenceLimits } from "../presence/index.js";
import { bool, ConfigError, num } from "./config.js";

const usersSchema = z.object({
  users: z.array(
    z
      .object({
        username: z.string().min(1).max(64).regex(/^[A-Za-z0-9\-_.!~*'()&=+$,;?/]+$/),
        password: z.string().min(1).max(256),
        /** The account's domain (its digest realm). @default the first domain served */
        domain: z.string().min(1).max(253).optional(),
      })
      .strict(),
  ),
});

/** Load `[[users]] username = "..." password = "..." [domain = "..."]` from a TOML file; `realm`: the domain of users without one. */
export function loadUsers(path: string, realm: string): MemoryCredentialStore {
  let doc: unknown;
  try {
    doc = parseToml(readFileSync(path, "utf8"));
  } catch (err) {
    throw new ConfigError(`cannot read users file ${path}: ${(err as Error).message}`);
  }
  const parsed = usersSchema.safeParse(doc);
  if (!parsed.success) throw new ConfigError(`invalid users file ${path}: ${parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ")}`);
  const store = new MemoryCredentialStore(realm);
  for (const u of parsed.data.users) store.set(u.username, { password: u.password }, canonicalHost(u.domain ?? realm));
  return store;
}


/** Parse listener specs (`udp:IP:PORT`, ...), or say which one is wrong. */
export function parseListeners(texts: readonly string[]): ListenSpec[] {
  return texts.map((text) => {
    const spec = parseListenSpec(text);
    if (!spec) throw new ConfigError(`invalid listener "${text}" (expected udp|tcp|tls|ws|wss:HOST:PORT)`);
    return spec;
  });
}

/**
 * The public-SIP limits (docs/security.md, "Public SIP: limits"), the same
 * keys for `thor sip` and `thor node`; defaults are the engine's constants.
 */
export const sipLimitsShape = {
  maxConnections: num().int().min(1).default(DEFAULT_CONNECTION_LIMITS.maxConnections),
  maxConnectionsPerIp: num().int().min(1).default(DEFAULT_CONNECTION_LIMITS.maxConnectionsPerIp),
  headerTimeoutMs: num().int().min(100).max(60_000).default(DEFAULT_CONNECTION_LIMITS.headerTimeoutMs),
  idleTimeoutMs: num().int().min(1000).default(DEFAULT_CONNECTION_LIMITS.idleMs),
  maxHeaders: num().int().min(16).max(4096).default(DEFAULT_MESSAGE_LIMITS.maxHeaders),
  maxVia: num().int().min(2).max(1024).default(DEFAULT_MESSAGE_LIMITS.maxVia),
  maxRoute: num().int().min(2).max(1024).default(DEFAULT_MESSAGE_LIMITS.maxRoute),
  maxContacts: num().int().min(1).max(1000).default(DEFAULT_MAX_CONTACTS),
};

type SipLimitsConfig = { [K in keyof typeof sipLimitsShape]: number };

/** Add the limit flags to a command. */
export function sipLimitFlags(cmd: Command): Command {
  return cmd
    .option(`--max-connections <n>`, `SIP connections accepted in total (default ${DEFAULT_CONNECTION_LIMITS.maxConnections})`)
    .option(`--max-connections-per-ip <n>`, `SIP connections accepted from one address (default ${DEFAULT_CONNECTION_LIMITS.maxConnectionsPerIp})`)
    .option(`--header-timeout-ms <ms>`, `a SIP message (and TLS/WebSocket handshake) must arrive within this once begun (default ${DEFAULT_CONNECTION_LIMITS.headerTimeoutMs})`)
    .option(`--idle-timeout-ms <ms>`, `silent SIP connections are closed after this (default ${DEFAULT_CONNECTION_LIMITS.idleMs})`)
    .option(`--max-headers <n>`, `header lines per SIP message (default ${DEFAULT_MESSAGE_LIMITS.maxHeaders})`)
    .option(`--max-via <n>`, `Via entries per SIP message (default ${DEFAULT_MESSAGE_LIMITS.maxVia})`)
    .option(`--max-route <n>`, `Route, Record-Route and Path entries per SIP message, each (default ${DEFAULT_MESSAGE_LIMITS.maxRoute})`)
    .option(`--max-contacts <n>`, `registered contacts per address of record (default ${DEFAULT_MAX_CONTACTS})`);
}

/** The engine options of the limit keys. */
export function sipLimits(cfg: SipLimitsConfig): { connectionLimits: ConnectionLimits; messageLimits: Partial<MessageLimits>; maxContacts: number } {
  return {
    connectionLimits: { maxConnections: cfg.maxConnections, maxConnectionsPerIp: cfg.maxConnectionsPerIp, headerTimeoutMs: cfg.headerTimeoutMs, idleMs: cfg.idleTimeoutMs },
    messageLimits: { maxHeaders: cfg.maxHeaders, maxVia: cfg.maxVia, maxRoute: cfg.maxRoute, maxRecordRoute: cfg.maxRoute, maxPath: cfg.maxRoute },
    maxContacts: cfg.maxContacts,
  };
}

/** The presence agent's settings (`thor node` sip_proxy, `thor sip`). */
export const presenceShape = {
  /** Answer SUBSCRIBE/PUBLISH for presence; off leaves them to the proxy like any request. */
  presence: bool().default(true),
  /** Handling of watchers of a presentity without a pres-rules document (RFC 5025 sub-handling). */
  presenceWithoutRules: z.enum(["block", "confirm", "polite-block", "allow"]).default("confirm"),
  /** Watchers per presentity, subscriptions per watcher. */
  presenceMaxWatchers: num().int().min(1).max(100_000).default(DEFAULT_MAX_WATCHERS),
  presenceMaxSubscriptions: num().int().min(1).max(100_000).default(DEFAULT_MAX_SUBSCRIPTIONS_PER_WATCHER),
};

type PresenceConfig = { presence: boolean; presenceWithoutRules: Handling; presenceMaxWatchers: number; presenceMaxSubscriptions: number };

/** Add the presence flags to a command. */
export function presenceFlags(cmd: Command): Command {
  return cmd
    .option("--presence [bool]", "answer SUBSCRIBE/PUBLISH for presence (default true)")
    .option("--presence-without-rules <handling>", "watchers of a presentity without pres-rules: block, confirm, polite-block or allow (default confirm)")
    .option("--presence-max-watchers <n>", `watchers per presentity (default ${DEFAULT_MAX_WATCHERS})`)
    .option("--presence-max-subscriptions <n>", `subscriptions one watcher may hold (default ${DEFAULT_MAX_SUBSCRIPTIONS_PER_WATCHER})`);
}

/** The presence settings as the SIP proxy role takes them (false: off). */
export function presenceSettings(cfg: PresenceConfig): false | { withoutRules: Handling; limits: Partial<PresenceLimits> } {
  return cfg.presence ? { withoutRules: cfg.presenceWithoutRules, limits: { maxWatchers: cfg.presenceMaxWatchers, maxSubscriptionsPerWatcher: cfg.presenceMaxSubscriptions } } : false;
}
