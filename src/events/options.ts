/** Defaults of the event servers and their clients. */

/** Port of `thor eventserver` and of SRV targets without one. @default 8000 */
export const DEFAULT_EVENT_PORT = 8000;
/** A subscriber whose unsent output exceeds this is disconnected. @default 8 MiB */
export const DEFAULT_MAX_QUEUE_BYTES = 8 * 1024 * 1024;
/** A connection silent this long is closed (clients ping every third of it). @default 30 s */
export const DEFAULT_IDLE_TIMEOUT_MS = 30_000;
/** Client ping interval. @default 10 s */
export const DEFAULT_PING_INTERVAL_MS = 10_000;
/** Reconnect backoff: first delay and cap. @default 250 ms, 5 s */
export const DEFAULT_RECONNECT_BASE_MS = 250;
export const DEFAULT_RECONNECT_MAX_MS = 5_000;
/** How many recent message ids a client remembers to drop duplicates. @default 20000 */
export const DEFAULT_DEDUP_WINDOW = 20_000;
/** How often SRV discovery is refreshed. @default 60 s */
export const DEFAULT_DISCOVERY_INTERVAL_MS = 60_000;
/** Maximum simultaneous connections per event server. @default 4096 */
export const DEFAULT_MAX_CONNECTIONS = 4096;
/**
 * Who an event client accepts as an event server: the server stamps the
 * publisher identity of every event, so only certificates issued as event
 * servers qualify. @default [{ OU: "eventserver" }]
 */
export const DEFAULT_SERVER_PASSPORTS: ReadonlyArray<Readonly<Record<string, string>>> = [{ OU: "eventserver" }];
/** Most certificate CNs one addressed publication may name (`PublishOptions.to`). @default 1024 */
export const MAX_ADDRESSEES = 1024;
