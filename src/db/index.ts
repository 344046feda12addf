/**
 * db/ — floor 1. The provisioning database: Kysely schema and migrations,
 * one code path for SQLite (embedded default) and PostgreSQL, repositories,
 * and the cluster that writes to the primary and reads from a secondary
 * when the primary is down. Imports only base/.
 */
export { openDatabase, pingDatabase, parseDbUri, isConnectionError, constraintKind, type Database, type Dialect, type ParsedDbUri, type OpenOptions } from "./connect.js";
export { migrateToLatest } from "./migrations.js";
export { DatabaseCluster, type DatabaseCandidate, type DatabaseClusterOptions, type DatabaseClusterState } from "./cluster.js";
export {
  insertDomain,
  getDomain,
  listDomains,
  updateDomain,
  deleteDomain,
  countAccounts,
  insertAccount,
  getAccount,
  getAccountId,
  listAccounts,
  updateAccount,
  deleteAccount,
  scanSubscribers,
  getSubscriber,
  insertAlias,
  getAlias,
  listAliases,
  deleteAlias,
  insertTrustedPeer,
  listTrustedPeers,
  deleteTrustedPeer,
  insertAudit,
  listAudit,
  type Executor,
  type PageRequest,
  type NewAccount,
  type AccountPatch,
  type AccountFilter,
} from "./store.js";
export {
  NO_FEATURES,
  type AccountRecord,
  type AliasKind,
  type AliasRecord,
  type AuditRecord,
  type CallFeatures,
  type DomainRecord,
  type Page,
  type PropertyValue,
  type SubscriberRecord,
  type TrustedPeerRecord,
  type XcapDocumentKey,
  type XcapDocumentRecord,
} from "./records.js";
export { getXcapDocument, insertXcapDocument, listXcapDocuments, replaceXcapDocument, deleteXcapDocument, xcapUsage } from "./xcap-documents.js";
export type { ProvisioningSchema } from "./schema.js";
export { DbUriError, DbUnavailableError, DbPrimaryDownError, DbConflictError, DbReferenceError, DbNotConfiguredError } from "./errors.js";
export { failoverChannel } from "./diagnostics.js";
export { DEFAULT_PRIMARY_RETRY_MS, DEFAULT_PG_CONNECT_TIMEOUT_MS, DEFAULT_PG_POOL_SIZE, DEFAULT_SQLITE_BUSY_TIMEOUT_MS, DEFAULT_SCAN_PAGE } from "./options.js";
export { appendChange, readChanges, latestChange, pruneChanges, type ChangeRow, type ChangeInput } from "./change-log.js";
