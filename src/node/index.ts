/**
 * node/ — floor 3. A member of the overlay: presence, snapshots applied to
 * the role map, the role contract, database discovery.
 */
export { NodeRuntime, type NodeRuntimeOptions } from "./runtime.js";
export { AdvertisedRole, type Role, type RoleContext, type RoleAdvertisement, type RoleReadiness, type DatabaseView } from "./role.js";
export { DatabaseDirectory, DatabaseAnnouncer } from "./database.js";
export { CutOffDetector, judgeSilence, newerVersion, parsePeerStanding, DEFAULT_CUT_OFF_MS, DEFAULT_CUT_OFF_PROBES, type CutOffDetectorOptions, type MembershipVersion, type PeerStanding, type ProbeResult, type SilenceVerdict } from "./cut-off.js";
export { loadSharedOpener, type SharedOpener } from "./shared-sockets.js";
export { serveDrain, drainStatus, type DrainStatus } from "./drain.js";
export {
  DEFAULT_PRESENCE_INTERVAL_MS,
  DEFAULT_STATISTICS_INTERVAL_MS,
  DEFAULT_SNAPSHOT_STALE_MS,
  DEFAULT_DATABASE_INTERVAL_MS,
} from "./options.js";
export { ControlLink, DEFAULT_CONTROL_PORT, DEFAULT_CONTROL_TIMEOUT_MS, type ControlLinkOptions, type ControlHandler, type ControlStats } from "./control/link.js";
export { ControlDecoder, encodeControlFrame, DEFAULT_MAX_CONTROL_FRAME, type ControlFrame } from "./control/codec.js";
export { ControlUnreachableError, ControlTimeoutError, ControlClosedError, ControlRemoteError } from "./errors.js";
export { ControlPayloadError } from "./errors.js";
