/**
 * overlay/ — floor 1. Members (entities), membership snapshots, the
 * consistent-hash ring (one per role) and the public lookup interface.
 * Pure data structures except `lookup/` (line codec + TCP server).
 * May import base/ only.
 */
export { entitySchema, sameEntity, ROLE_NAME, type Entity } from "./entity.js";
export { membershipSnapshotSchema, isNewerSnapshot, type MembershipSnapshot } from "./snapshot.js";
