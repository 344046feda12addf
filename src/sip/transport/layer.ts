/**
 * The SIP transport layer (RFC 3261 18, RFC 3581, RFC 5626 3.5.1, RFC 7118):
 * UDP (udp.ts), TCP and TLS (stream.ts) and WebSocket (websocket.ts)
 * listeners and connections over one flow table (flows.ts); connection
 * reuse for responses and for requests to a peer we already have a
 * connection with (and the `alias` a mutually authenticated TLS peer
 * offers, RFC 5923); `received`/`rport` stamped on incoming requests and
 * responses routed by their Via (via.ts); malformed requests answered 400
 * (513 over a header cap) with the reason, or dropped (with a log line)
 * when no answer can be formed. It implements {@link SipTransport}.
 *
 * Limits (see limits.ts): connections in total and per address, a short
 * deadline for a message once begun (and for handshakes), an idle
 * timeout, header caps of the parser, and an admission check (the rate
 * limiter) run for every message before it is parsed or answered. Sends
 * never throw: a destination that cannot be used is reported as a failed
 * send to the caller.
 */
import net from "node:net";
import { performance } from "node:perf_hooks";
import { describeError, loadSocketsAddon, type Logger, type SocketsAddon } from "../../base/index.js";
import { createResponse, DEFAULT_MESSAGE_LIMITS, serializeMessage, type MessageLimits, type ParseResult, type SipRequest } from "../message/index.js";
import type { PeerTls, TransportContext, TransportStats } from "./context.js";
import { SLOW_MESSAGE_US, slowMessageChannel } from "./diagnostics.js";
import { FlowTable, normalizeAddress, reuseKey } from "./flows.js";
import { ConnectionCounter, CostRecord, DEFAULT_CONNECTION_LIMITS, type ConnectionLimits } from "./limits.js";
import { StreamTransport } from "./stream.js";
import type { BoundListener, SendDestination, SipReceiver, SipTransport } from "./transport.js";
import type { Address, Flow, ListenSpec, SharedSocketOpener, TransportName } from "./types.js";
import { DEFAULT_UDP_BUFFER, UdpTransport, type Listener } from "./udp.js";
import { responseDestination, stampReceived } from "./via.js";
import { WebSocketTransport } from "./websocket.js";

export interface TransportLayerOptions {
  logger: Logger;
  listen: ListenSpec[];
  /** Certificate and key (PEM) for tls and wss listeners and outgoing TLS. */
  tls?: { cert: string; key: string; ca?: string; rejectUnauthorized?: boolean };
  /**
   * Mutual TLS for the internal listener and for connections to other
   * members' internal listeners: `authorize` names the peer (certificate CN)
   * or gives the reason it is refused.
   */
  peerTls?: PeerTls;
  /** @default 65535 */
  maxMessage?: number;
  /** Caps on header lines and list entries per message. @default DEFAULT_MESSAGE_LIMITS */
  messageLimits?: Partial<MessageLimits>;
  /** Connection caps and timeouts. @default DEFAULT_CONNECTION_LIMITS */
  connectionLimits?: Partial<ConnectionLimits>;
  /**
   * Asked for every message received (request, response or malformed)
   * before it is parsed or answered: false drops it silently (the rate
   * limiter). @default admit everything
   */
  admit?: (flow: Flow) => boolean;
  /**
   * The clock (milliseconds) that measures what each message costs
   * (`cost`); a CPU-time clock makes the figures independent of other load
   * on the machine. @default performance.now (wall time)
   */
  costClock?: () => number;
  /**
   * Receive and send buffer of UDP sockets. Bursts of datagrams wait here
   * while the event loop is busy; with the Linux default (208 KiB) a burst
   * of a few hundred requests overflows it and the datagrams are dropped,
   * which costs a retransmission interval each. @default 4 MiB (capped by
   * the kernel at net.core.rmem_max / wmem_max)
   */
  udpBufferBytes?: number;
  /** Opens the sockets of `shared` listeners (SO_REUSEPORT). @default none: a shared listener fails to start */
  openShared?: SharedSocketOpener;
  /**
   * How UDP is read and written: `batched` (the sockets addon: one
   * recvmmsg per burst received, one sendmmsg per loop turn's sends) or
   * `dgram` (Node's, one call per datagram). @default batched when the
   * addon is built (Linux), unless THOR_SIP_UDP_IO=dgram
   */
  udpIo?: "batched" | "dgram";
  /** Receives every message (the layer above: SipServer wires the transaction layer). @default drop */
  onMessage?: SipReceiver;
}

/** The sockets addon for batched UDP, or why UDP goes through dgram (asked for, or the addon is not built). */
function batchedUdp(io: "batched" | "dgram"): SocketsAddon | string {
  return io === "dgram" ? "dgram asked for" : loadSocketsAddon();
}

export class TransportLayer implements SipTransport {
  readonly stats: TransportStats = { received: 0, sent: 0, parseErrors: 0, connections: 0, refused: 0, connectionsRefused: 0, sendErrors: 0 };
  /** Event-loop time spent on each received datagram or stream chunk (parse and hand-up). */
  readonly cost = new CostRecord();
  private readonly receiver: SipReceiver;
  private readonly admit: (flow: Flow) => boolean;
  private readonly listeners: Listener[] = [];
  /** bound() and local() answers (per `transport/use`), dropped when the listeners change ({@link listenersChanged}). */
  private boundList: readonly BoundListener[] | undefined;
  private readonly locals = new Map<string, Readonly<{ host: string; port: number }> | undefined>();
  private readonly flows = new FlowTable();
  private readonly accepted: ConnectionCounter;
  private readonly log: Logger;
  private readonly udp: UdpTransport;
  private readonly stream: StreamTransport;
  private readonly ws: WebSocketTransport;

  constructor(private readonly opts: TransportLayerOptions) {
    this.log = opts.logger;
    this.receiver = opts.onMessage ?? (() => undefined);
    const limits = { ...DEFAULT_CONNECTION_LIMITS, ...definedOnly(opts.connectionLimits ?? {}) };
    this.accepted = new ConnectionCounter(limits);
    this.admit = opts.admit ?? (() => true);
    const costClock = opts.costClock ?? (() => performance.now());
    const ctx: TransportContext = {
      log: this.log,
      limits,
      stats: this.stats,
      flows: this.flows,
      accepted: this.accepted,
      tls: opts.tls,
      peerTls: opts.peerTls,
      maxMessage: opts.maxMessage,
      parseOpts: {
        ...(opts.maxMessage !== undefined ? { maxMessage: opts.maxMessage } : {}),
        ...(opts.messageLimits ? { limits: { ...DEFAULT_MESSAGE_LIMITS, ...definedOnly(opts.messageLimits) } } : {}),
      },
      costClock,
      admitted: (flow) => this.admitted(flow),
      deliver: (result, flow) => this.deliver(result, flow),
      measured: (started, flow, bytes) => this.measured(costClock, started, flow, bytes),
      sendOn: (flow, data) => this.sendOn(flow, data),
      gate: (socket) => this.gate(socket),
    };
    const addon = batchedUdp(opts.udpIo ?? (process.env["THOR_SIP_UDP_IO"] === "dgram" ? "dgram" : "batched"));
    // Slower, not broken: a missing addon (no compiler at build time) is worth a warning, a chosen dgram is not.
    if (typeof addon === "string" && opts.listen.some((l) => l.transport === "udp")) this.log[addon === "dgram asked for" ? "info" : "warn"]({ reason: addon }, "SIP over UDP through Node's dgram: one system call per datagram");
    this.udp = new UdpTransport(ctx, opts.udpBufferBytes ?? DEFAULT_UDP_BUFFER, opts.openShared, typeof addon === "string" ? undefined : addon);
    this.stream = new StreamTransport(ctx, () => this.listeners.find((l) => l.spec.internal)?.spec.host);
    this.ws = new WebSocketTransport(ctx);
  }

  /** How UDP is read and written (see `udpIo` in the options). */
  get udpIo(): "batched" | "dgram" {
    return this.udp.batchedIo ? "batched" : "dgram";
  }

  /** Open connections of every kind (accepted and opened by us) and the flows they hold. */
  get open(): { connections: number; flows: number } {
    return this.flows.open;
  }

  /** Connections accepted from clients (and members) and still open. */
  get acceptedConnections(): number {
    return this.accepted.size;
  }

  async start(): Promise<void> {
    for (const spec of this.opts.listen) {
      this.listeners.push(await this.listen(spec));
      this.listenersChanged();
    }
  }

  private listenersChanged(): void {
    this.boundList = undefined;
    this.locals.clear();
  }

  async stop(): Promise<void> {
    this.flows.destroyAll();
    await Promise.all(this.listeners.map((l) => l.close()));
    this.listeners.length = 0;
    this.listenersChanged();
  }

  /** The listeners and their ports (the same array until the listeners change: asked several times per message). */
  bound(): readonly BoundListener[] {
    return (this.boundList ??= Object.freeze(this.listeners.map((l) => Object.freeze({ ...l.spec, boundPort: l.port }))));
  }

  /** Our address for `transport` in a Record-Route or Contact (`route`) or a Via (`via`); computed once per listener set (several per message). */
  local(transport: TransportName, use: "route" | "via" = "route"): Readonly<{ host: string; port: number }> | undefined {
    const key = `${transport}/${use}`;
    if (this.locals.has(key)) return this.locals.get(key);
    // A shared listener first for Record-Route and Contact, last for Via (ListenSpec.shared).
    const pub = this.listeners.filter((x) => !x.spec.internal).sort((a, b) => (!a.spec.shared === !b.spec.shared ? 0 : !a.spec.shared === (use === "via") ? -1 : 1));
    const l = pub.find((x) => x.spec.transport === transport) ?? (transport === "wss" ? undefined : pub.find((x) => x.spec.transport === (transport === "ws" ? "tcp" : transport)));
    const found = l ? Object.freeze(hostPort(l)) : undefined;
    this.locals.set(key, found);
    return found;
  }

  localInternal(): { host: string; port: number } | undefined {
    const l = this.listeners.find((x) => x.spec.internal);
    return l ? hostPort(l) : undefined;
  }

  flow(id: string): Flow | undefined {
    return this.flows.get(id);
  }

  sendOn(flow: Flow, data: Buffer): boolean {
    if (flow.closed) return false;
    try {
      const ok = flow.send(data);
      if (ok) this.stats.sent++;
      return ok;
    } catch (err) {
      this.sendFailed(flow.transport, flow.remote, err);
      return false;
    }
  }

  respond(bytes: Buffer, flow: Flow, request: SipRequest): boolean {
    if (!flow.reliable || !flow.closed) return this.sendOn(flow, bytes);
    const dest = responseDestination(request, flow);
    return dest !== undefined && this.sendTo(dest, bytes) !== undefined;
  }

  sendTo(dest: SendDestination, data: Buffer): Flow | undefined {
    // Every destination is checked here, whatever header it came from: never a throw out of a timer or a promise.
    if (!Number.isInteger(dest.port) || dest.port < 1 || dest.port > 65535 || typeof dest.address !== "string" || dest.address.length === 0) {
      this.sendFailed(dest.transport, dest, new Error("destination port or address out of range"));
      return undefined;
    }
    try {
      return this.sendToChecked(dest, data);
    } catch (err) {
      this.sendFailed(dest.transport, dest, err);
      return undefined;
    }
  }

  private sendToChecked(dest: SendDestination, data: Buffer): Flow | undefined {
    if (dest.internal) {
      const flow = this.stream.peerConnection(dest);
      if (flow) this.sendOn(flow, data);
      return flow;
    }
    const reuse = this.flows.reuse(reuseKey(dest));
    if (reuse) {
      this.sendOn(reuse, data);
      return reuse;
    }
    if (dest.transport === "udp") return this.udp.sendTo(dest, data, (flow, err) => this.sendFailed("udp", flow.remote, err), dest.clientFlow === true);
    const flow = dest.transport === "tcp" || dest.transport === "tls" ? this.stream.connect(dest.transport, dest) : this.ws.connect(dest.transport, dest);
    this.sendOn(flow, data);
    return flow;
  }

  private sendFailed(transport: TransportName, dest: Address, err: unknown): void {
    this.stats.sendErrors++;
    this.log.info({ transport, dest: `${dest.address}:${dest.port}`, err: describeError(err) }, "send failed");
  }

  private listen(spec: ListenSpec): Promise<Listener> {
    switch (spec.transport) {
      case "udp":
        return this.udp.listen(spec);
      case "tcp":
        return this.stream.listenTcp(spec);
      case "tls":
        return this.stream.listenTls(spec);
      case "ws":
      case "wss":
        return this.ws.listen(spec);
    }
  }

  /**
   * Admission of an accepted connection (before any TLS or HTTP work):
   * the total and per-address caps. Releases the slot when it closes.
   */
  private gate(socket: net.Socket): boolean {
    const ip = normalizeAddress(socket.remoteAddress);
    const refused = this.accepted.acquire(ip);
    if (refused !== undefined) {
      this.stats.connectionsRefused++;
      this.log.info({ remote: ip, reason: refused }, "connection refused");
      socket.destroy();
      return false;
    }
    socket.once("close", () => this.accepted.release(ip));
    return true;
  }

  /** Record what handling `bytes` cost since `started`; report it when slow. */
  private measured(costClock: () => number, started: number, flow: Flow, bytes: Buffer): void {
    const us = (costClock() - started) * 1000;
    this.cost.record(us);
    if (us > SLOW_MESSAGE_US && slowMessageChannel.hasSubscribers) slowMessageChannel.publish({ transport: flow.transport, remote: flow.remote, bytes: Buffer.from(bytes), costUs: us }); // a copy: a batched UDP socket reuses `bytes`
  }

  private admitted(flow: Flow): boolean {
    if (this.admit(flow)) return true;
    this.stats.refused++;
    return false;
  }

  /** Hand a parsed message up, or answer/drop a bad one. Returns an alias the peer offered. */
  private deliver(result: ParseResult, flow: Flow): Address | undefined {
    this.stats.received++;
    if (!result.ok) {
      this.stats.parseErrors++;
      const { error } = result;
      if (error.status !== undefined && error.request && error.request.headers.some((h) => h.key === "via")) {
        this.log.info({ flow: flow.id, remote: `${flow.remote.address}:${flow.remote.port}`, reason: error.reason }, `answering ${error.status} to a malformed request`);
        if (error.request.method !== "ACK") this.sendOn(flow, serializeMessage(createResponse(error.request, error.status, statusReason(error.status, error.reason))));
      } else {
        this.log.info({ flow: flow.id, remote: `${flow.remote.address}:${flow.remote.port}`, reason: error.reason }, "dropping a malformed message");
      }
      return undefined;
    }
    const message = result.message;
    let alias: Address | undefined;
    if (message.isRequest) alias = stampReceived(message, flow);
    try {
      this.receiver({ message, flow });
    } catch (err) {
      this.log.error({ err: describeError(err) }, "message handler failed");
    }
    return alias;
  }
}

function hostPort(l: Listener): { host: string; port: number } {
  const host = l.spec.advertise ?? l.spec.host;
  return { host: host.includes(":") && !host.startsWith("[") ? `[${host}]` : host, port: l.port };
}

function statusReason(status: number, reason: string): string {
  const base = status === 505 ? "Version Not Supported" : status === 413 ? "Request Entity Too Large" : status === 513 ? "Message Too Large" : "Bad Request";
  return `${base} (${reason.slice(0, 100)})`;
}

/** The fields of `o` that are set (so that `{ ...defaults, ...definedOnly(o) }` keeps defaults for the others). */
function definedOnly<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
