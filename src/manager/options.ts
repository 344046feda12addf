/** Timing of membership and manager election. */

/** A member silent this long is removed from the snapshot (members announce every 2 s). @default 6000 ms */
export const DEFAULT_MEMBER_TIMEOUT_MS = 6_000;
/** The active manager publishes its beacon (version and digest of the membership) this often. @default 5000 ms */
export const DEFAULT_SNAPSHOT_INTERVAL_MS = 5_000;
/** Managers send heartbeats this often. @default 1000 ms */
export const DEFAULT_HEARTBEAT_MS = 1_000;
/** A manager silent this long is considered dead. @default 3000 ms */
export const DEFAULT_MANAGER_DEAD_MS = 3_000;
/** Membership changes within this window go out as one delta; table requests within it are answered together. @default 50 ms */
export const DEFAULT_DELTA_WINDOW_MS = 50;
/** Distinct members whose table requests one window holds; more are dropped (they ask again). @default 100,000 */
export const DEFAULT_MAX_TABLE_REQUESTERS = 100_000;
