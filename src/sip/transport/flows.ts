/**
 * Flows (RFC 5626) and the table that holds them: one per connection
 * (TCP, TLS, WebSocket) and one per UDP (socket, remote address) pair; the
 * index from a peer's `transport:address:port` (and the aliases it
 * offered) to the connection reused to reach it; the open connections, so
 * that stopping closes them all.
 */
import { randomBase64Url } from "../message/index.js";
import type { DatagramSender } from "./batched-udp.js";
import type { SendDestination } from "./transport.js";
import type { Address, Flow, TransportName } from "./types.js";

/** A connection's flow (TCP, TLS, WebSocket). */
export class SocketFlow implements Flow {
  readonly reliable = true;
  constructor(
    readonly id: string,
    readonly transport: TransportName,
    readonly local: Address,
    readonly remote: Address,
    private readonly write: (data: Buffer) => boolean,
    private readonly isClosed: () => boolean,
    public peer?: string,
  ) {}
  private closeListeners: Set<() => void> | undefined;
  private ended = false;
  send(data: Buffer): boolean {
    return this.closed ? false : this.write(data);
  }
  get closed(): boolean {
    return this.ended || this.isClosed();
  }
  onClose(listener: () => void): () => void {
    if (this.ended) {
      queueMicrotask(listener);
      return () => undefined;
    }
    (this.closeListeners ??= new Set()).add(listener);
    return () => void this.closeListeners?.delete(listener);
  }
  /** The connection closed (or failed to open): tell who waits on it, once. */
  notifyClosed(): void {
    if (this.ended) return;
    this.ended = true;
    const listeners = this.closeListeners;
    this.closeListeners = undefined;
    for (const l of listeners ?? []) l();
  }
}

/** A UDP flow: our socket and one remote address. */
export class UdpFlow implements Flow {
  readonly transport = "udp" as const;
  readonly reliable = false;
  readonly closed = false;
  private idText: string | undefined;
  constructor(
    private readonly socket: DatagramSender,
    readonly local: Address,
    readonly remote: Address,
  ) {}
  /** Built when first asked for (most datagrams never need it). */
  get id(): string {
    return (this.idText ??= `udp:${this.local.address}:${this.local.port}/${this.remote.address}:${this.remote.port}`);
  }
  send(data: Buffer): boolean {
    // Errors of the datagram itself (e.g. unreachable) come later, to onError; an unusable destination throws now.
    // A flow nobody listens to for errors sends without a sink: no completion call into JS per datagram.
    this.socket.send(data, this.remote, this.onError === ignoreError ? undefined : this);
    return true;
  }
  onError: (err: Error) => void = ignoreError;
}

function ignoreError(): void {}

/** Something to destroy when the transport stops (a socket, a WebSocket). */
export interface Closable {
  destroy(): void;
}

export class FlowTable {
  private readonly flows = new Map<string, Flow>();
  /** `transport:address:port` of a peer → flow id (connections and aliases). */
  private readonly byRemote = new Map<string, string>();
  private readonly connections = new Set<Closable>();

  /** Open connections of every kind (accepted and opened by us) and the flows they hold. */
  get open(): { connections: number; flows: number } {
    return { connections: this.connections.size, flows: this.flows.size };
  }

  get(id: string): Flow | undefined {
    return this.flows.get(id);
  }

  /** Add a connection's flow, reachable under `key` (its peer's address). */
  add(flow: Flow, key: string | undefined, connection: Closable): void {
    this.flows.set(flow.id, flow);
    if (key !== undefined) this.byRemote.set(key, flow.id);
    this.connections.add(connection);
  }

  /** Reach flow `id` under `key` too, unless another flow holds it; whether it was added. */
  alias(key: string, id: string): boolean {
    if (this.byRemote.has(key)) return false;
    this.byRemote.set(key, id);
    return true;
  }

  /** Point `key` at flow `id` (replacing what it named). */
  point(key: string, id: string): void {
    this.byRemote.set(key, id);
  }

  /** The open flow reachable under `key`, if any. */
  reuse(key: string): Flow | undefined {
    const id = this.byRemote.get(key);
    const flow = id === undefined ? undefined : this.flows.get(id);
    return flow && !flow.closed ? flow : undefined;
  }

  /** A connection closed: forget its flow and the keys that named it. */
  remove(id: string, keys: readonly string[], connection: Closable): void {
    this.flows.delete(id);
    for (const k of keys) if (this.byRemote.get(k) === id) this.byRemote.delete(k);
    this.connections.delete(connection);
  }

  destroyAll(): void {
    for (const c of this.connections) c.destroy();
  }
}

/**
 * A connection id: random (96 bits), so nobody can guess the id of another
 * client's connection (ids travel in flow tokens and bindings).
 */
export function connectionId(transport: TransportName): string {
  return `${transport}#${randomBase64Url(12)}`;
}

/**
 * The key under which a connection is reused for requests to `dest`. A
 * secure connection we opened to a SIP domain is reused for that domain
 * only: its certificate was checked against that name (RFC 5922), not
 * against any other domain served at the same address.
 */
export function reuseKey(dest: Address & { transport: TransportName; servername?: string }): string {
  const base = `${dest.transport}:${dest.address}:${dest.port}`;
  return (dest.transport === "tls" || dest.transport === "wss") && dest.servername !== undefined ? `${base}/${dest.servername}` : base;
}

/** The TLS servername of a destination: the name it gives, else its address when that is a name. */
export function servernameOf(dest: SendDestination | (Address & { servername?: string }), isIp: (a: string) => boolean): { servername?: string } {
  return dest.servername !== undefined ? { servername: dest.servername } : isIp(dest.address) ? {} : { servername: dest.address };
}

export function normalizeAddress(a: string | undefined): string {
  if (!a) return "?";
  return a.startsWith("::ffff:") ? a.slice(7) : a;
}
