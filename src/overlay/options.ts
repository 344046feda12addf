/** Defaults of the ring and the lookup interface. */

/** Virtual points per node on each ring (as in SIP Thor). @default 1000 */
export const DEFAULT_MULTIPLY = 1000;
/** Public lookup interface port. @default 9500 */
export const DEFAULT_LOOKUP_PORT = 9500;
/** Longest request line accepted on the lookup port, in bytes. @default 512 */
export const DEFAULT_MAX_LINE = 512;
/** Idle lookup connections are closed after this long. @default 60 s */
export const DEFAULT_LOOKUP_IDLE_MS = 60_000;
/** Maximum simultaneous lookup connections. @default 1024 */
export const DEFAULT_LOOKUP_MAX_CONNECTIONS = 1024;
