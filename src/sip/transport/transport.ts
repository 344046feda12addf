/**
 * The SIP transport contract (RFC 3261 18) as the layers above see it:
 * messages are received with the flow they came on (delivered to the
 * receiver the transport was built with), and sent to a flow, to a
 * destination, or as a response routed by the request's Via (18.2.2). The
 * transport also says where it listens, so the proxy can write its Via and
 * Record-Route and recognise URIs naming it.
 *
 * Sends never throw: a destination that cannot be used is a failed send.
 */
import type { SipRequest } from "../message/index.js";
import type { Address, Flow, Inbound, ListenSpec, TransportName } from "./types.js";

/** A destination to send to: an address over a transport, possibly another member's internal listener. */
export interface SendDestination extends Address {
  transport: TransportName;
  /** The name a TLS/WSS certificate must carry (RFC 5922). @default the address */
  servername?: string;
  /** Another member's internal listener: mutual TLS over the member link. */
  internal?: boolean;
  /**
   * A client's UDP flow (its NAT binding, RFC 5626): sent from the socket
   * the client talks to, a shared one first (ListenSpec.shared), since a
   * NAT may drop what comes from another port. @default false
   */
  clientFlow?: boolean;
}

/** A listener with the port actually bound (port 0 → chosen). */
export type BoundListener = ListenSpec & { boundPort: number };

export interface SipTransport {
  start(): Promise<void>;
  stop(): Promise<void>;
  /** Send on a flow, if it is still open. */
  sendOn(flow: Flow, data: Buffer): boolean;
  /** Send to a destination (reusing a connection or alias to it); the flow used, or undefined when it could not be sent. */
  sendTo(dest: SendDestination, data: Buffer): Flow | undefined;
  /** RFC 3261 18.2.2: send a response to `request`, which arrived on `flow`. */
  respond(bytes: Buffer, flow: Flow, request: SipRequest): boolean;
  /** An open flow by id. */
  flow(id: string): Flow | undefined;
  /** Where we listen. */
  bound(): readonly BoundListener[];
  /**
   * The listener to name for `transport` (public listeners only): in a
   * Record-Route or Contact (`route`, a shared listener first), or in our
   * Via (`via`, the worker's own listener first: see ListenSpec.shared).
   */
  local(transport: TransportName, use?: "route" | "via"): Readonly<{ host: string; port: number }> | undefined;
  /** The internal (member-to-member) listener, if any. */
  localInternal(): { host: string; port: number } | undefined;
}

/** What receives the messages of a transport (the transaction layer, through the server). */
export type SipReceiver = (inbound: Inbound) => void;
