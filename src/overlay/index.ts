/**
 * overlay/ — floor 1. The shape of the network: entities, membership
 * snapshots, the consistent-hash ring per role and the public lookup
 * interface (TCP 9500). Imports only base/. See docs/ring.md.
 */
export { entitySchema, sameEntity, ROLE_NAME, type Entity } from "./entity.js";
export { membershipSnapshotSchema, isNewerSnapshot, type MembershipSnapshot } from "./snapshot.js";
export {
  MembershipFeed,
  diffMembership,
  type MembershipChange,
  type MembershipUpdate,
  type MembershipVerdict,
  type MembershipRefusal,
  type MembershipSource,
  type MembershipFeedOptions,
  type MembershipListener,
  type SnapshotPublisher,
  type MembershipFeedStats,
  type MembershipVersionOf,
} from "./membership-feed.js";
export {
  memberTupleSchema,
  membershipMessageSchema,
  membershipDeltaSchema,
  membershipBeaconSchema,
  membershipTableSchema,
  membershipRequestSchema,
  TABLE_REQUEST_REASONS,
  MembershipDigest,
  TableAssembler,
  encodeTable,
  decodeTable,
  toTuple,
  fromTuple,
  type MemberTuple,
  type MembershipMessage,
  type MembershipDelta,
  type MembershipBeacon,
  type MembershipTablePart,
  type MembershipRequest,
  type TableRequestReason,
  type TableHeader,
  type TableResult,
} from "./membership-codec.js";
export { murmur3, murmur3Bytes } from "./murmur3.js";
export { normalizeKey, MAX_KEY_LENGTH, type KeyResult } from "./key.js";
export { HashRing, ringSpread, type RingLayout, type RingSpread } from "./ring.js";
export { RoleMap, type RoleMapOptions } from "./role-map.js";
export {
  parseRequest,
  formatRequest,
  formatAnswer,
  formatError,
  parseAnswer,
  LookupLineDecoder,
  type LookupRequest,
  type LookupLine,
  type LookupAnswer,
  type LookupSource,
} from "./lookup-codec.js";
export { LookupServer, type LookupServerOptions } from "./lookup-server.js";
export { LookupClient, queryLookup } from "./lookup-client.js";
export { RingConfigError, LookupTimeoutError, LookupClosedError, LookupAnswerError, LookupRequestError } from "./errors.js";
export { lookupClosedChannel, membershipChannel } from "./diagnostics.js";
export {
  DEFAULT_MULTIPLY,
  DEFAULT_LOOKUP_PORT,
  DEFAULT_MAX_LINE,
  DEFAULT_LOOKUP_IDLE_MS,
  DEFAULT_LOOKUP_MAX_CONNECTIONS,
  DEFAULT_LOOKUP_HIGH_WATER,
  DEFAULT_LOOKUP_TIMEOUT_MS,
  DEFAULT_SNAPSHOT_STALE_MS,
  DEFAULT_TABLE_REQUEST_INTERVAL_MS,
  DEFAULT_PENDING_DELTAS,
  DEFAULT_TABLE_PART_BYTES,
  MAX_MEMBERS,
  MAX_DELTA_OPS,
  MAX_TABLE_PARTS,
  MAX_TABLE_BYTES,
} from "./options.js";
