/** Defaults of the ring and the lookup interface. */

/** Virtual points per node on each ring (as in SIP Thor). @default 1000 */
export const DEFAULT_MULTIPLY = 1000;
/** Public lookup interface port. @default 9500 */
export const DEFAULT_LOOKUP_PORT = 9500;
/** Longest request line accepted on the lookup port, in bytes, without the CR LF. @default 512 */
export const DEFAULT_MAX_LINE = 512;
/** Idle lookup connections are closed after this long. @default 60 s */
export const DEFAULT_LOOKUP_IDLE_MS = 60_000;
/** Maximum simultaneous lookup connections. @default 1024 */
export const DEFAULT_LOOKUP_MAX_CONNECTIONS = 1024;
/**
 * Unsent answer bytes per connection above which the server stops reading
 * that connection until the client catches up. @default 64 KiB
 */
export const DEFAULT_LOOKUP_HIGH_WATER = 64 * 1024;
/** How long the client waits for each answer. @default 5 s */
export const DEFAULT_LOOKUP_TIMEOUT_MS = 5000;
/** A snapshot older than this may be replaced by one of a lower epoch (every manager restarted). @default 20 s */
export const DEFAULT_SNAPSHOT_STALE_MS = 20_000;
/** Largest membership a table or delta may describe. @default 100,000 */
export const MAX_MEMBERS = 100_000;
/** Most member changes in one delta; the manager splits larger batches into consecutive deltas. @default 500 */
export const MAX_DELTA_OPS = 500;
/** Characters of compressed table per `Thor.MembersTable` part (well below the event servers' frame limit). @default 256 KiB */
export const DEFAULT_TABLE_PART_BYTES = 256 * 1024;
/** Most parts of one full table. @default 256 */
export const MAX_TABLE_PARTS = 256;
/** Largest inflated full table accepted. @default 128 MiB */
export const MAX_TABLE_BYTES = 128 * 1024 * 1024;
/** While a member wants the full membership table, it asks again this often. @default 1 s */
export const DEFAULT_TABLE_REQUEST_INTERVAL_MS = 1_000;
/** Deltas a member keeps while it waits for a table (replayed on top of it). @default 256 */
export const DEFAULT_PENDING_DELTAS = 256;
