/**
 * The provisioning schema as Kysely sees it. Booleans are stored as 0/1
 * integers and lists/maps as JSON text, and timestamps as ISO-8601 text, so
 * SQLite and PostgreSQL share one code path and return the same values.
 */
import type { Generated } from "kysely";

export interface DomainTable {
  id: Generated<number>;
  name: string;
  enabled: number;
  description: string | null;
  created_at: string;
  updated_at: string;
}

export interface AccountTable {
  id: Generated<number>;
  username: string;
  domain: string;
  /** H(username:domain:password) with MD5, hex: the password itself is never stored. */
  ha1_md5: string;
  /** The same with SHA-256 (RFC 8760). */
  ha1_sha256: string;
  display_name: string | null;
  enabled: number;
  blocked: number;
  /** Concurrent call limit; null = no limit. */
  max_calls: number | null;
  /** Monthly credit in cents; null = no quota. */
  quota: number | null;
  /** JSON array of group names. */
  groups: string;
  /** JSON object of free-form properties. */
  properties: string;
  created_at: string;
  updated_at: string;
}

export interface AliasTable {
  id: Generated<number>;
  /** `alias` (a second SIP address) or `did` (a phone number, E.164). */
  kind: string;
  username: string;
  domain: string;
  account_id: number;
  created_at: string;
}

export interface CallFeaturesTable {
  account_id: number;
  forward_unconditional: string | null;
  forward_busy: string | null;
  forward_no_answer: string | null;
  /** Seconds of ringing before forward_no_answer applies. */
  forward_no_answer_timeout: number | null;
  forward_unavailable: string | null;
  dnd: number;
  /** JSON arrays of patterns (`*` wildcard) of refused callers / callees. */
  block_incoming: string;
  block_outgoing: string;
  updated_at: string;
}

export interface TrustedPeerTable {
  id: Generated<number>;
  cidr: string;
  description: string | null;
  created_at: string;
}

export interface AuditTable {
  id: Generated<number>;
  at: string;
  actor: string;
  action: string;
  entity: string;
  key: string;
  detail: string | null;
}

/** One XCAP document (RFC 4825): the body as UTF-8 text, addressed by application usage, user and name. */
export interface XcapDocumentTable {
  id: Generated<number>;
  /** Application usage id (`pres-rules`, `resource-lists`, ...). */
  auid: string;
  /** XCAP user id, e.g. `sip:alice@example.com`. */
  xui: string;
  /** Document path below the user's folder (`index`, `lists/friends.xml`). */
  name: string;
  /** Entity tag of the current version; changes with every write. */
  etag: string;
  doc: string;
  /** Size of `doc` in bytes (UTF-8). */
  size: number;
  updated_at: string;
}

/**
 * One committed provisioning change, written in the transaction of the
 * change itself: nodes read what they missed from here when the event bus
 * was down or dropped the notice (see db/change-log.ts).
 */
export interface ChangeLogTable {
  seq: Generated<number>;
  at: string;
  /** JSON array of the changed AORs. */
  aors: string;
  /** JSON array of changed domains. */
  domains: string;
  /** 1 when the trusted peers changed. */
  trusted_peers: number;
}

export interface ProvisioningSchema {
  domains: DomainTable;
  accounts: AccountTable;
  aliases: AliasTable;
  call_features: CallFeaturesTable;
  trusted_peers: TrustedPeerTable;
  audit: AuditTable;
  xcap_documents: XcapDocumentTable;
  change_log: ChangeLogTable;
}
