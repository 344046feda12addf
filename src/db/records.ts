/** What the data layer returns: plain typed records, independent of the dialect. */

export interface DomainRecord {
  name: string;
  enabled: boolean;
  description: string | null;
  createdAt: string;
  updatedAt: string;
}

export interface CallFeatures {
  /** Forward every call to this URI. */
  forwardUnconditional: string | null;
  forwardBusy: string | null;
  forwardNoAnswer: string | null;
  /** Seconds of ringing before `forwardNoAnswer` applies. */
  forwardNoAnswerTimeout: number | null;
  /** When no contact is registered. */
  forwardUnavailable: string | null;
  /** Do not disturb: refuse incoming calls. */
  dnd: boolean;
  /** Caller patterns refused (`*` wildcard at the end, e.g. `+1900*`). */
  blockIncoming: string[];
  /** Callee patterns the account may not call. */
  blockOutgoing: string[];
}

export type PropertyValue = string | number | boolean;

export interface AccountRecord {
  username: string;
  domain: string;
  /** HA1 hashes of the password for digest authentication (the password is not kept). */
  ha1: { md5: string; sha256: string };
  displayName: string | null;
  enabled: boolean;
  blocked: boolean;
  maxCalls: number | null;
  quota: number | null;
  groups: string[];
  properties: Record<string, PropertyValue>;
  features: CallFeatures;
  createdAt: string;
  updatedAt: string;
}

export type AliasKind = "alias" | "did";

export interface AliasRecord {
  kind: AliasKind;
  /** `user@domain` of the alias (for a DID, `+number@domain`). */
  alias: string;
  /** `user@domain` of the account it maps to. */
  account: string;
  createdAt: string;
}

export interface TrustedPeerRecord {
  id: number;
  cidr: string;
  description: string | null;
  createdAt: string;
}

export interface AuditRecord {
  id: number;
  at: string;
  actor: string;
  action: string;
  entity: string;
  key: string;
  detail: unknown;
}

/** An account as a SIP node caches it: the account and the aliases that map to it. */
export interface SubscriberRecord extends AccountRecord {
  id: number;
  aliases: AliasRecord[];
}

export interface Page<T> {
  items: T[];
  total: number;
  limit: number;
  offset: number;
}

export const NO_FEATURES: CallFeatures = {
  forwardUnconditional: null,
  forwardBusy: null,
  forwardNoAnswer: null,
  forwardNoAnswerTimeout: null,
  forwardUnavailable: null,
  dnd: false,
  blockIncoming: [],
  blockOutgoing: [],
};

/** Where an XCAP document lives: application usage, user (XUI) and document name. */
export interface XcapDocumentKey {
  auid: string;
  xui: string;
  name: string;
}

export interface XcapDocumentRecord extends XcapDocumentKey {
  etag: string;
  /** The document, UTF-8 XML text. */
  doc: string;
  updatedAt: string;
}
