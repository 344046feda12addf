/** Defaults of `thor node`. */

/** Presence is re-announced this often (the manager expires after 3 misses). @default 2000 ms */
export const DEFAULT_PRESENCE_INTERVAL_MS = 2_000;
/** Per-role counters are published this often on `Thor.Statistics`. @default 10 s */
export const DEFAULT_STATISTICS_INTERVAL_MS = 10_000;
/** Snapshot staleness is the membership feed's (overlay/). */
export { DEFAULT_SNAPSHOT_STALE_MS } from "../overlay/index.js";
/** Database announcements are repeated this often and expire after 3 misses. @default 2000 ms */
export const DEFAULT_DATABASE_INTERVAL_MS = 2_000;
