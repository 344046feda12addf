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

/** A closed connection that carried registrations, as the location service is told of it. */
export interface FailedFlow {
  id: string;
  /** The member whose transport held the flow (distributed service); absent on a single node. */
  edge?: string;
}

/**
 * Whether a binding is reached only over the flow it registered on, so
 * that the flow's failure leaves it unreachable (RFC 5626 section 5.3):
 * a WebSocket client (RFC 7118: browsers accept no connections; their
 * Contact is a `.invalid` host), or an outbound client (`reg-id`, or `;ob`
 * in its Contact), and no Path (then the flow is the edge proxy's, not the
 * client's). Other TCP/TLS clients stay bound: the proxy opens a new
 * connection to their Contact (RFC 3261 18.1.1), as for a client that
 * registered with one connection and receives calls on another.
 */
export function reachedOnlyOverFlow(b: Binding): boolean {
  if (b.transport === "udp" || b.path.length > 0) return false;
  return b.transport === "ws" || b.transport === "wss" || b.regId !== undefined || /;ob\b/i.test(b.contact);
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
  /**
   * RFC 5626 flow failure: the connection `flow` (held by member `flow.edge`,
   * or this node when absent) closed. The bindings of `aor` learned over it
   * that only that flow reaches ({@link reachedOnlyOverFlow}) are removed,
   * so no request is sent (or forked) to them any more. Answers how many.
   */
  flowFailed(aor: string, flow: FailedFlow): number | Promise<number>;
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
