/**
 * dns/ — floor 2. `thor dns`: authoritative DNS for the platform's domains,
 * following the live membership. The zone and answer engine is pure
 * (zone.ts, authority.ts, answer.ts, message-codec.ts, responder.ts); the
 * sockets live in server.ts; follower.ts binds it to `Thor.Members`;
 * update-codec.ts and update-client.ts push the records to an external
 * primary (RFC 2136 dynamic updates signed with TSIG, RFC 8945).
 * May import base/, overlay/, events/. See docs/dns.md.
 */
export { Zone, validateZoneConfig, encodeRR, type ZoneConfig, type NameServer, type EventServerTarget, type RRSet, type ZoneNode } from "./zone.js";
export { Authority } from "./authority.js";
export { answerQuery, randomSlice, rcodeName, type AnswerOptions, type AnswerResult } from "./answer.js";
export { decodeQuery, encodeResponse, encodeHeaderOnly, RCODE, BADVERS, type QueryDecode, type EncodedResponse, type ResponseParts, type WireRR } from "./message-codec.js";
export { Responder, type Outcome, type Transport } from "./responder.js";
export { DnsServer, type DnsServerOptions, type DnsServerStats, type ListenAddress } from "./server.js";
export { RateLimiter, type RateLimiterOptions, type RateDecision } from "./rate-limit.js";
export { MembershipFollower, type MembershipFollowerOptions } from "./follower.js";
export { canonicalName, hostLabel, inZone, isValidName } from "./names.js";
export { UpdateClient, type UpdateClientOptions } from "./update-client.js";
export { encodeUpdate, deleteRRset, signTsig, readUpdateReply, nameWire, type TsigKey, type UpdateReply } from "./update-codec.js";
export { DnsConfigError, DnsListenError, DnsUpdateError } from "./errors.js";
export { queryChannel, malformedChannel, zoneChannel } from "./diagnostics.js";
export {
  DEFAULT_DNS_PORT,
  DEFAULT_TTL,
  DEFAULT_ZONE_TTL,
  DEFAULT_NEGATIVE_TTL,
  DEFAULT_SLICE,
  DEFAULT_UDP_PAYLOAD,
  DEFAULT_TCP_IDLE_MS,
  DEFAULT_TCP_MAX_CONNECTIONS,
  DEFAULT_RATE_LIMIT,
  DEFAULT_RATE_LIMIT_SLIP,
  ANY_HINFO_TTL,
  DEFAULT_SNAPSHOT_STALE_MS,
  DEFAULT_SERVICES,
  SIP_TRANSPORTS,
  SIP_ROLE,
  type ServiceRecord,
} from "./options.js";
