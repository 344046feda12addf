/**
 * Options and defaults of the DNS engine and server. See docs/dns.md.
 */

/** Port of `thor dns` when none is given (the demo and tests use 5300, unprivileged). @default 53 */
export const DEFAULT_DNS_PORT = 53;
/** TTL of the records that follow the membership (NAPTR, SRV, A/AAAA). @default 10 */
export const DEFAULT_TTL = 10;
/** TTL of SOA and NS records. @default 300 */
export const DEFAULT_ZONE_TTL = 300;
/** SOA MINIMUM, the negative-caching TTL of NXDOMAIN/NODATA answers (RFC 2308). @default 10 */
export const DEFAULT_NEGATIVE_TTL = 10;
/** At most this many records of a load-shared RRset per answer (the random slice). @default 3 */
export const DEFAULT_SLICE = 3;
/** Our EDNS0 UDP payload size (RFC 6891; 1232 avoids IP fragmentation). @default 1232 */
export const DEFAULT_UDP_PAYLOAD = 1232;
/** TTL of the RFC 8482 HINFO "RFC8482" answer given to every ANY query. @default 3600 */
export const ANY_HINFO_TTL = 3600;
/**
 * Response rate limiting of `thor dns` over UDP: responses per second per
 * client /24 (IPv4) or /56 (IPv6); 0 turns it off. On by default, so that a
 * fresh deployment is no reflection amplifier. @default 100
 */
export const DEFAULT_RATE_LIMIT = 100;
/** Over the rate limit, every n-th response is sent empty with TC (the client retries over TCP); 0: none. @default 2 */
export const DEFAULT_RATE_LIMIT_SLIP = 2;
/** Idle TCP connections are closed after this long (RFC 7766 6.2.3). @default 10000 */
export const DEFAULT_TCP_IDLE_MS = 10_000;
/** Concurrent TCP connections accepted per listener. @default 256 */
export const DEFAULT_TCP_MAX_CONNECTIONS = 256;

/** A service other than SIP that clients reach directly: one SRV RRset per zone. */
export interface ServiceRecord {
  /** Owner name relative to the zone, e.g. `_xcap._tcp`. */
  srv: string;
  /** Members of this role are listed; `null`: any member advertising `port`. */
  role: string | null;
  /** Name of the advertised port in the member's entity `ports`. */
  port: string;
}

/**
 * The non-SIP services published by default: XCAP, provisioning and the
 * public lookup interface.
 */
export const DEFAULT_SERVICES: readonly ServiceRecord[] = [
  { srv: "_xcap._tcp", role: "xcap_server", port: "xcap" },
  { srv: "_provisioning._tcp", role: "provisioning_server", port: "provisioning" },
  { srv: "_lookup._tcp", role: null, port: "lookup" },
];

/** SIP transports: NAPTR service, SRV owner and advertised port name (RFC 3263, RFC 7118). */
export const SIP_TRANSPORTS = [
  { service: "SIP+D2U", srv: "_sip._udp", port: "sip_udp" },
  { service: "SIP+D2T", srv: "_sip._tcp", port: "sip_tcp" },
  { service: "SIPS+D2T", srv: "_sips._tcp", port: "sip_tls" },
  { service: "SIP+D2W", srv: "_sip._ws", port: "sip_ws" },
  { service: "SIPS+D2W", srv: "_sips._ws", port: "sip_wss" },
] as const;

/** The role whose members the SIP records name. */
export const SIP_ROLE = "sip_proxy";

/** Snapshot staleness is the membership feed's (overlay/). */
export { DEFAULT_SNAPSHOT_STALE_MS } from "../overlay/index.js";
