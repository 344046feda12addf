/** Defaults of the shared HTTP server (metrics, health, dashboard; later XCAP and provisioning). */

/** Largest request body accepted. @default 1 MiB */
export const DEFAULT_HTTP_BODY_LIMIT = 1024 * 1024;
/** A request must arrive whole within this long. @default 10 s */
export const DEFAULT_HTTP_REQUEST_TIMEOUT_MS = 10_000;
/** Idle keep-alive connections are closed after this long. @default 5 s */
export const DEFAULT_HTTP_KEEPALIVE_MS = 5_000;
/** Simultaneous connections above which new ones are refused. @default 256 */
export const DEFAULT_HTTP_MAX_CONNECTIONS = 256;
