/** How long a primary that failed is skipped before it is tried again. @default 2000 */
export const DEFAULT_PRIMARY_RETRY_MS = 2000;
/** PostgreSQL connection timeout. @default 3000 */
export const DEFAULT_PG_CONNECT_TIMEOUT_MS = 3000;
/** PostgreSQL pool size per database. @default 10 */
export const DEFAULT_PG_POOL_SIZE = 10;
/** SQLite busy timeout (several processes share the file). @default 5000 */
export const DEFAULT_SQLITE_BUSY_TIMEOUT_MS = 5000;
/** Rows per page when scanning all accounts (cache loads). @default 5000 */
export const DEFAULT_SCAN_PAGE = 5000;
