/**
 * overlay/ — floor 1. The shape of the network: entities, membership
 * snapshots, the consistent-hash ring per role and the public lookup
 * interface. Imports only base/.
 */
export { entitySchema, sameEntity, ROLE_NAME, type Entity } from "./entity.js";
export { membershipSnapshotSchema, isNewerSnapshot, type MembershipSnapshot } from "./snapshot.js";
export { murmur3, murmur3Bytes } from "./murmur3.js";
export { normalizeKey, type KeyResult } from "./key.js";
export { HashRing, ringSpread, type RingSpread } from "./ring.js";
export { RoleMap, type RoleMapOptions } from "./role-map.js";
export { parseRequest, LookupLineDecoder, formatError, type LookupRequest, type ParsedLine, type DecodedLine } from "./lookup-codec.js";
export { LookupServer, answer, type LookupServerOptions } from "./lookup-server.js";
export { LookupClient, queryLookup } from "./lookup-client.js";
export { DEFAULT_MULTIPLY, DEFAULT_LOOKUP_PORT, DEFAULT_MAX_LINE } from "./options.js";
