/**
 * manager/ — floor 3. Membership (presence, leave, expiry) and the election
 * of the one active manager that publishes the membership on `Thor.Members`
 * (deltas and beacons) and `Thor.MembersTable` (full tables, on request).
 */
export { Manager, checkPresence, type ManagerOptions } from "./manager.js";
export { Election, winsOver, type ElectionConfig, type ElectionState, type Transition } from "./election.js";
export { MembershipTable, type TableChange } from "./membership-table.js";
export { eventServerQuorum, hearingWindowMs, hearsQuorum, type HeardLinks } from "./quorum.js";
export { electionChannel } from "./diagnostics.js";
export {
  DEFAULT_MEMBER_TIMEOUT_MS,
  DEFAULT_SNAPSHOT_INTERVAL_MS,
  DEFAULT_HEARTBEAT_MS,
  DEFAULT_MANAGER_DEAD_MS,
  DEFAULT_DELTA_WINDOW_MS,
  DEFAULT_MAX_TABLE_REQUESTERS,
} from "./options.js";
