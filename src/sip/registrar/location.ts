/**
 * The location service: address-of-record → bindings (RFC 3261 10.3).
 * Each binding remembers the flow and source address the REGISTER came
 * from, so requests reach clients behind NAT and on connection-oriented
 * transports (RFC 5626 style), and the `+sip.instance` / `reg-id` of
 * outbound-capable clients.
 */
export interface Binding {
  /** Contact URI as registered (normalized text). */
  uri: string;
  /** The Contact header element as received (for 200 OK listings). */
  contact: string;
  /** Absolute expiry, wall-clock ms (bindings move between nodes). */
  expires: number;
  q: number;
  callId: string;
  cseq: number;
  instance: string | undefined;
  regId: number | undefined;
  /** Flow the REGISTER arrived on and its source. */
  flowId: string;
  transport: string;
  source: { address: string; port: number };
  /** Path headers (RFC 3327), top first. */
  path: string[];
  updatedAt: number;
  /** The member that holds `flowId` (distributed service); absent when it is this node. */
  edge?: string;
}

/**
 * Thrown by a location service that could not ask anyone who holds an AOR
 * (every holder unreachable). Not a fault of ours to log as an error, nor a
 * "no such user": the proxy answers 480 (INVITE and other requests) or 503
 * (REGISTER), both with Retry-After.
 */
export class LocationUnavailableError extends Error {
  override readonly name = "LocationUnavailableError";
}

/** Retry-After (seconds) when the location holders of an AOR could not be reached. */
export const LOCATION_RETRY_AFTER_S = 5;

/**
 * Where bindings are kept, as the proxy sees it: the local store on a
 * single node, or the AOR's holders in the distributed service. A node has
 * exactly one: the registrar UAS writes through it and the proxy core reads
 * through it, so what one registers the other finds.
 */
export interface LocationService {
  register(aor: string, data: RegisterData): RegisterOutcome | Promise<RegisterOutcome>;
  /** Live bindings of an AOR, best q first. */
  lookup(aor: string): Binding[] | Promise<Binding[]>;
  /**
   * The live binding held on this node whose contact URI is `uri`, whatever
   * its AOR: a request sent straight to a registered contact (no Route)
   * leaves on that client's flow.
   */
  byContact(uri: string): Binding | undefined;
  /** The bindings this node holds (statistics, sweeping). */
  readonly store: LocationStoreView;
}

/** What others may read of a node's binding store. */
export interface LocationStoreView {
  readonly size: number;
  readonly aorCount: number;
  lookup(aor: string, now: number): Binding[];
}

/**
 * What the registrar needs of a REGISTER, as plain data: the edge node that
 * received it can hand it to the node that keeps the AOR's bindings.
 */
export interface RegisterData {
  callId: string;
  cseq: number;
  /** Contact header values as received. */
  contacts: string[];
  /** The Expires header, if any, as received. */
  expires: string | undefined;
  /** The client supports GRUU (RFC 5627). */
  gruu: boolean;
  path: string[];
  flow: { id: string; transport: string; source: { address: string; port: number } };
  /** The member whose transport holds `flow` (distributed service); absent on a single node. */
  edge?: string;
}

export type RegisterOutcome =
  | { status: 200; aor: string; bindings: Binding[]; gruu: boolean }
  | { status: 400 | 403 | 404 | 423 | 500 | 503; reason: string; minExpires?: number };
