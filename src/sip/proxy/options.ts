/** Options and constants of the proxy (RFC 3261 16). */
import type { Clock, KeyRing, Logger } from "../../base/index.js";
import type { AsyncCredentialStore, CredentialStore } from "../auth/index.js";
import type { GuardOptions } from "../guard/index.js";
import type { Interceptor } from "../pipeline/index.js";
import type { LocationService, RegistrarOptions } from "../registrar/index.js";
import type { TimerConfig } from "../transaction/index.js";
import type { SipTransport } from "../transport/index.js";
import type { SipResolver } from "./targets.js";

export interface ProxyOptions {
  logger: Logger;
  transport: SipTransport;
  /** Domains we are responsible for (registrar and proxy for their users). */
  domains: string[];
  credentials: CredentialStore | AsyncCredentialStore;
  /**
   * Where bindings live: the node's one location service, which the
   * registrar writes and the proxy reads. @default a local registrar with
   * `registrar` options
   */
  location?: LocationService;
  /** Set when this proxy is one node of the distributed service. */
  cluster?: ClusterHooks;
  clock?: Clock;
  timers?: Partial<TimerConfig>;
  /** Options of the default local registrar (unused when `location` is given). */
  registrar?: RegistrarOptions;
  /** Timer C: an INVITE branch without a final response is cancelled after this. @default DEFAULT_TIMER_C_MS */
  timerCMs?: number;
  guard?: GuardOptions;
  /** Digest algorithms offered, preferred first. @default ["SHA-256", "MD5"] */
  algorithms?: Array<"MD5" | "SHA-256">;
  userAgent?: string;
  /** DNS for RFC 3263 resolution of targets. @default the system's */
  resolver?: SipResolver;
  /** Features on the request pipeline, outermost first, after the guard and authentication (docs/sip-core.md). @default none */
  interceptors?: Interceptor[];
  /**
   * Keys that sign our Record-Route entries, flow tokens and digest nonces:
   * the cluster secret, so every member verifies what another signed.
   * @default an ephemeral key (dialogs do not survive a restart)
   */
  keys?: KeyRing;
  /** Domains whose phones may answer digest challenges without qop (one answer per nonce). @default none */
  digestWithoutQop?: string[];
}

/**
 * What the proxy needs to know of the other members when it is one node of
 * the distributed service. Requests arriving on the internal listener come
 * from members, which have authenticated the client already.
 */
export interface ClusterHooks {
  /** This member's id: bindings registered through us name it as their edge. */
  readonly self: string;
  /**
   * The internal listener of member `edge` (host as written in a URI), or
   * undefined when that member is gone. The proxy writes the Route to it,
   * with a signed flow token in the user part.
   */
  edgeAddress(edge: string): { host: string; port: number } | undefined;
  /** Whether `address:port` is another member's internal SIP listener. */
  isPeer(address: string, port: number): boolean;
  /**
   * Whether member `edge` is a SIP worker of this host (it shares our
   * public ports): a UDP client it holds without a NAT binding is then
   * reached straight from here, not through it. @default never
   */
  sameHost?(edge: string): boolean;
  /**
   * Why this member takes no new registrations or calls from clients now
   * ("draining", "starting" until it has its membership and accounts, "cut
   * off" while it hears no manager and the cluster moved on without it), or
   * undefined when it does.
   */
  unavailable?(): "draining" | "starting" | "cut off" | undefined;
}

/** Counters of the proxy and its pipeline steps. */
export interface ProxyCounters {
  requests: number;
  registrations: number;
  /** Initial INVITEs this member took from a client and forwards (counted once, by the member that received it). */
  calls: number;
  forwarded: number;
  challenges: number;
  authFailures: number;
  rejected: number;
  strays: number;
  /** Requests dropped without an answer (ACKs that cannot be delivered), see {@link DropReason}. */
  dropped: number;
}


/** How long a Record-Route token stays valid: longer than any dialog we expect (docs/security.md). @default 24 h */
export const RECORD_ROUTE_TOKEN_TTL_S = 24 * 3600;
/** Option tags this proxy supports in Proxy-Require (RFC 3261 16.3 step 5). */
export const SUPPORTED_PROXY_OPTIONS: readonly string[] = ["path"];
/** Retry-After (seconds) of the 503 a draining or starting member answers to new requests, and of one whose account holders did not answer. */
export const UNAVAILABLE_RETRY_AFTER_S = 5;
/** Timer C (RFC 3261 16.6 step 11): greater than 3 minutes. @default 180 s */
export const DEFAULT_TIMER_C_MS = 180_000;
