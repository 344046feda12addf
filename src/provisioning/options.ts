/** API port of a provisioning server. @default 9280 */
export const DEFAULT_API_PORT = 9280;
/** Largest request body (bytes), except bulk import. @default 1 MiB */
export const DEFAULT_MAX_BODY = 1024 * 1024;
/** Largest bulk import body (bytes). @default 32 MiB */
export const DEFAULT_MAX_IMPORT_BODY = 32 * 1024 * 1024;
/** Items per page when `limit` is not given. @default 100 */
export const DEFAULT_PAGE_LIMIT = 100;
/** Largest `limit`. @default 1000 */
export const MAX_PAGE_LIMIT = 1000;
/** Most accounts in one bulk import. @default 100000 */
export const MAX_IMPORT_ACCOUNTS = 100_000;
/** AORs per `Thor.Provisioning` publication. @default 1000 */
export const DEFAULT_CHANGE_CHUNK = 1000;
/** Statistics reports older than this are left out of the aggregate. @default 30000 */
export const DEFAULT_STATISTICS_MAX_AGE_MS = 30_000;
/** Accounts read per page when a cache loads. @default 5000 */
export const DEFAULT_CACHE_PAGE = 5000;
