/**
 * node/ — floor 3. A member of the overlay: presence, snapshots applied to
 * the role map, the role contract, database discovery.
 */
export { NodeRuntime, type NodeRuntimeOptions } from "./runtime.js";
export { AdvertisedRole, type Role, type RoleContext, type RoleAdvertisement } from "./role.js";
export { DatabaseDirectory, DatabaseAnnouncer } from "./database.js";
export {
  DEFAULT_PRESENCE_INTERVAL_MS,
  DEFAULT_STATISTICS_INTERVAL_MS,
  DEFAULT_SNAPSHOT_STALE_MS,
  DEFAULT_DATABASE_INTERVAL_MS,
} from "./options.js";
