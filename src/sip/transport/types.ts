/**
 * The transport contract (RFC 3261 section 18) between sockets and the
 * transaction layer: messages come in with the flow they arrived on, and go
 * out to a flow or to an address.
 */
import type { AnyMessage } from "../message/index.js";

export type TransportName = "udp" | "tcp" | "tls" | "ws" | "wss";

export interface Address {
  address: string;
  port: number;
}

/**
 * A flow (RFC 5626): the path to one peer through one of our sockets. For
 * UDP a (socket, remote address) pair; for TCP/TLS/WS one connection.
 */
export interface Flow {
  readonly id: string;
  readonly transport: TransportName;
  readonly local: Address;
  readonly remote: Address;
  /** Reliable transports need no retransmissions (Timer A/E/G off). */
  readonly reliable: boolean;
  send(data: Buffer): boolean;
  readonly closed: boolean;
  /** On the internal listener: the authenticated peer member (certificate CN). */
  readonly peer?: string;
  /**
   * Connections only: call `listener` once when the connection closes (at
   * once, asynchronously, if it is closed already). Returns the way to stop
   * listening. A transaction whose request rides on a connection that
   * closes, or never opens, learns it here instead of waiting for Timer B.
   */
  onClose?(listener: () => void): () => void;
}

export interface Inbound {
  message: AnyMessage;
  flow: Flow;
}

export interface ListenSpec {
  transport: TransportName;
  host: string;
  port: number;
  /** Address written into Via/Record-Route (default: host). */
  advertise?: string;
  /**
   * The member-to-member listener (TLS with mutual certificate checks, see
   * `peerTls`): only other members use it, never clients.
   */
  internal?: boolean;
  /**
   * Shared by the SIP workers of one host (docs/sip-cluster.md, "Every
   * core of a host"): opened with SO_REUSEPORT through the transport's
   * `openShared`, so the kernel spreads clients over the workers by their
   * 4-tuple. Named in Record-Route and Contact (any worker serves what
   * comes back to it), never in Via: a worker's Via names its own listener
   * of the transport, and it sends its requests from there, so responses
   * come back to the worker that holds their transaction.
   */
  shared?: boolean;
}

/**
 * Opens a socket bound to `host:port` with SO_REUSEPORT and gives its
 * descriptor (a negative errno when it cannot): the native addon
 * native/reuseport, passed in by the composition root.
 */
export type SharedSocketOpener = (kind: "udp" | "tcp", host: string, port: number, bufferBytes: number) => number;

/** Parse `udp:127.0.0.1:5060`, `tls:[::1]:5061`, `ws:0.0.0.0:8080`. */
export function parseListenSpec(text: string): ListenSpec | undefined {
  const m = /^(udp|tcp|tls|ws|wss):(\[[0-9A-Fa-f:.]+\]|[^:\s]+):(\d{1,5})(?:\/(.+))?$/i.exec(text.trim());
  if (!m) return undefined;
  const port = Number(m[3]);
  if (port > 65535) return undefined;
  const host = m[2]!.replace(/^\[|\]$/g, "");
  const spec: ListenSpec = { transport: m[1]!.toLowerCase() as TransportName, host, port };
  if (m[4]) spec.advertise = m[4];
  return spec;
}

export function isReliable(t: TransportName): boolean {
  return t !== "udp";
}
