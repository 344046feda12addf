import { defineError } from "../base/index.js";

/** A `dburi` that names no supported database (`sqlite://...`, `postgres://...`). */
export const DbUriError = defineError("THOR_DB_URI", "DbUriError");
/** The database could not be reached (connection refused, reset, timed out). */
export const DbUnavailableError = defineError("THOR_DB_UNAVAILABLE", "DbUnavailableError");
/** A write was refused because the primary database is down (reads still go to a secondary). */
export const DbPrimaryDownError = defineError("THOR_DB_PRIMARY_DOWN", "DbPrimaryDownError");
/** A unique constraint refused the change (the entity exists already). */
export const DbConflictError = defineError("THOR_DB_CONFLICT", "DbConflictError");
/** A foreign key refused the change (it names something that does not exist, or is still referenced). */
export const DbReferenceError = defineError("THOR_DB_REFERENCE", "DbReferenceError");
/** No database has been announced or configured yet. */
export const DbNotConfiguredError = defineError("THOR_DB_NOT_CONFIGURED", "DbNotConfiguredError");
