/**
 * The SIP transport layer (RFC 3261 18, RFC 3581, RFC 5626 3.5.1, RFC 7118):
 * UDP, TCP, TLS and WebSocket listeners; connection reuse for responses and
 * for requests to a peer we already have a connection with (and the
 * `alias` a mutually authenticated TLS peer offers, RFC 5923); `received`/`rport` stamped on
 * incoming requests; CRLF keepalive answered; idle connections closed;
 * malformed requests answered 400 (513 over a header cap) with the
 * reason, or dropped (with a log line) when no answer can be formed.
 *
 * Limits (see limits.ts): connections in total and per address, a short
 * deadline for a message once begun (and for handshakes), an idle
 * timeout, header caps of the parser, and an admission check (the rate
 * limiter) run for every message before it is parsed or answered. Sends
 * never throw: a destination that cannot be used is reported as a failed
 * send to the caller.
 */
import dgram from "node:dgram";
import dns from "node:dns";
import net from "node:net";
import tls from "node:tls";
import http from "node:http";
import https from "node:https";
import { WebSocket, WebSocketServer } from "ws";
import { describeError, type Logger } from "../../base/index.js";
import { performance } from "node:perf_hooks";
import { createResponse, DEFAULT_MESSAGE_LIMITS, formatVia, parseMessage, randomBase64Url, serializeMessage, StreamFramer, type MessageLimits, type ParseResult, type SipRequest } from "../message/index.js";
import { isReliable, type Address, type Flow, type Inbound, type ListenSpec, type TransportName } from "./types.js";
import { SLOW_MESSAGE_US, slowMessageChannel } from "./diagnostics.js";
import { ConnectionCounter, CostRecord, DEFAULT_CONNECTION_LIMITS, type ConnectionLimits } from "./limits.js";

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
  /** Called for every message received; set by the layer above. */
  onMessage?: (inbound: Inbound) => void;
}

/**
 * Mutual TLS between members, provided by the composition side (the member
 * link of pki/, which this engine does not import): options for both ends,
 * the admission of a peer (`dialled` names the address we dialled; absent
 * for accepted connections), and `follow` to keep a server's CRL current.
 * An admitted peer stays watched by the provider, which cuts its
 * connection when its certificate is revoked.
 */
export interface PeerTls {
  server(): tls.TlsOptions;
  client(): tls.ConnectionOptions;
  authorize(socket: tls.TLSSocket, dialled?: Address): { ok: true; peer: string } | { ok: false; reason: string };
  follow?(server: tls.Server): void;
}

export interface TransportStats {
  received: number;
  sent: number;
  parseErrors: number;
  connections: number;
  /** Messages the admission check (rate limiter) dropped. */
  refused: number;
  /** Connections refused or closed by a limit (count cap, header timeout, idle). */
  connectionsRefused: number;
  /** Sends that failed (unusable destination, socket error). */
  sendErrors: number;
}

interface Listener {
  spec: ListenSpec;
  port: number;
  close(): Promise<void>;
}

class SocketFlow implements Flow {
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
  send(data: Buffer): boolean {
    return this.closed ? false : this.write(data);
  }
  get closed(): boolean {
    return this.isClosed();
  }
}

const ignoreError = (): void => undefined;

/**
 * The lookup of UDP sockets: an IP literal (every address a SIP flow or a
 * resolved target holds) is answered at once; dgram's default goes through
 * dns.lookup and a nextTick for each datagram sent.
 */
function literalLookup(hostname: string, options: dns.LookupOneOptions | number, callback: (err: NodeJS.ErrnoException | null, address: string, family: number) => void): void {
  const family = net.isIP(hostname);
  if (family !== 0) callback(null, hostname, family);
  else dns.lookup(hostname, typeof options === "number" ? { family: options } : options, callback);
}

class UdpFlow implements Flow {
  readonly transport = "udp" as const;
  readonly reliable = false;
  readonly closed = false;
  private idText: string | undefined;
  constructor(
    private readonly socket: dgram.Socket,
    readonly local: Address,
    readonly remote: Address,
  ) {}
  /** Built on first use: most datagrams are answered without naming their flow. */
  get id(): string {
    return (this.idText ??= `udp:${this.local.address}:${this.local.port}/${this.remote.address}:${this.remote.port}`);
  }
  send(data: Buffer): boolean {
    // Errors of the datagram itself (e.g. unreachable) arrive on the callback; bad arguments throw now.
    // A flow nobody listens to for errors sends without a callback: no completion call into JS per datagram.
    if (this.onError === ignoreError) this.socket.send(data, this.remote.port, this.remote.address);
    else
      this.socket.send(data, this.remote.port, this.remote.address, (err) => {
        if (err) this.onError(err);
      });
    return true;
  }
  onError: (err: Error) => void = ignoreError;
}

/** @default 4 MiB (the kernel caps it at net.core.rmem_max / wmem_max) */
const DEFAULT_UDP_BUFFER = 4 * 1024 * 1024;

export class TransportLayer {
  onMessage: (inbound: Inbound) => void;
  readonly stats: TransportStats = { received: 0, sent: 0, parseErrors: 0, connections: 0, refused: 0, connectionsRefused: 0, sendErrors: 0 };
  /** Event-loop time spent on each received datagram or stream chunk (parse and hand-up). */
  readonly cost = new CostRecord();
  private readonly limits: ConnectionLimits;
  private readonly accepted: ConnectionCounter;
  private readonly admit: (flow: Flow) => boolean;
  private readonly costClock: () => number;
  private readonly parseOpts: { maxMessage?: number; limits?: MessageLimits };
  private readonly listeners: Listener[] = [];
  private readonly udpSockets = new Map<string, { socket: dgram.Socket; local: Address }>();
  private readonly flows = new Map<string, Flow>();
  /** `transport:address:port` of a peer → flow id (connections and aliases). */
  private readonly byRemote = new Map<string, string>();
  private readonly connections = new Set<{ destroy(): void }>();
  private readonly log: Logger;

  constructor(private readonly opts: TransportLayerOptions) {
    this.log = opts.logger;
    this.onMessage = opts.onMessage ?? (() => undefined);
    this.limits = { ...DEFAULT_CONNECTION_LIMITS, ...definedOnly(opts.connectionLimits ?? {}) };
    this.accepted = new ConnectionCounter(this.limits);
    this.admit = opts.admit ?? (() => true);
    this.costClock = opts.costClock ?? (() => performance.now());
    this.parseOpts = {
      ...(opts.maxMessage !== undefined ? { maxMessage: opts.maxMessage } : {}),
      ...(opts.messageLimits ? { limits: { ...DEFAULT_MESSAGE_LIMITS, ...definedOnly(opts.messageLimits) } } : {}),
    };
  }

  /** Open connections of every kind (accepted and opened by us) and the flows they hold. */
  get open(): { connections: number; flows: number } {
    return { connections: this.connections.size, flows: this.flows.size };
  }

  /** Connections accepted from clients (and members) and still open. */
  get acceptedConnections(): number {
    return this.accepted.size;
  }

  async start(): Promise<void> {
    for (const spec of this.opts.listen) this.listeners.push(await this.listen(spec));
  }

  async stop(): Promise<void> {
    for (const c of this.connections) c.destroy();
    await Promise.all(this.listeners.map((l) => l.close()));
    this.listeners.length = 0;
  }

  /** Where we listen, with the port actually bound (port 0 → chosen). */
  bound(): Array<ListenSpec & { boundPort: number }> {
    return this.listeners.map((l) => ({ ...l.spec, boundPort: l.port }));
  }

  /** The listener to name in a Via or Record-Route for `transport` (public listeners only). */
  local(transport: TransportName): { host: string; port: number } | undefined {
    const pub = this.listeners.filter((x) => !x.spec.internal);
    const l = pub.find((x) => x.spec.transport === transport) ?? (transport === "wss" ? undefined : pub.find((x) => x.spec.transport === (transport === "ws" ? "tcp" : transport)));
    return l ? hostPort(l) : undefined;
  }

  /** The internal (member-to-member) listener, if any. */
  localInternal(): { host: string; port: number } | undefined {
    const l = this.listeners.find((x) => x.spec.internal);
    return l ? hostPort(l) : undefined;
  }

  flow(id: string): Flow | undefined {
    return this.flows.get(id);
  }

  /** Send to a flow, if it is still open. */
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

  private sendFailed(transport: TransportName, dest: Address, err: unknown): void {
    this.stats.sendErrors++;
    this.log.info({ transport, dest: `${dest.address}:${dest.port}`, err: describeError(err) }, "send failed");
  }

  /**
   * Send to an address: over an existing connection or alias to that peer,
   * else a new connection (TCP, TLS, WS, WSS) or our UDP socket. Returns the
   * flow, or undefined when we have no UDP socket of that address family.
   */
  sendTo(dest: Address & { transport: TransportName; servername?: string; internal?: boolean }, data: Buffer): Flow | undefined {
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

  private sendToChecked(dest: Address & { transport: TransportName; servername?: string; internal?: boolean }, data: Buffer): Flow | undefined {
    if (dest.internal) {
      const flow = this.peerConnection(dest);
      if (flow) this.sendOn(flow, data);
      return flow;
    }
    const existing = this.byRemote.get(reuseKey(dest));
    const reuse = existing ? this.flows.get(existing) : undefined;
    if (reuse && !reuse.closed) {
      this.sendOn(reuse, data);
      return reuse;
    }
    if (dest.transport === "udp") {
      const family = net.isIPv6(dest.address) ? 6 : 4;
      const sock = [...this.udpSockets.values()].find((s) => net.isIP(s.local.address) === family || (family === 4 && s.local.address === "0.0.0.0"));
      if (!sock) return undefined;
      const flow = new UdpFlow(sock.socket, sock.local, { address: dest.address, port: dest.port });
      flow.onError = (err) => this.sendFailed("udp", flow.remote, err);
      return this.sendOn(flow, data) ? flow : undefined;
    }
    const flow = dest.transport === "tcp" || dest.transport === "tls" ? this.connect(dest.transport, dest) : this.connectWs(dest.transport, dest);
    this.sendOn(flow, data);
    return flow;
  }

  private async listen(spec: ListenSpec): Promise<Listener> {
    switch (spec.transport) {
      case "udp":
        return this.listenUdp(spec);
      case "tcp": {
        const server = net.createServer();
        server.on("connection", (s: net.Socket) => {
          if (this.gate(s)) this.accept("tcp", s);
        });
        return this.listenStream(spec, server);
      }
      case "tls": {
        if (spec.internal) return this.listenInternal(spec);
        if (!this.opts.tls) throw new Error("a tls listener needs a certificate and key");
        const server = tls.createServer({ cert: this.opts.tls.cert, key: this.opts.tls.key, minVersion: "TLSv1.2", handshakeTimeout: this.limits.headerTimeoutMs }, (s) => this.accept("tls", s));
        server.on("connection", (s: net.Socket) => this.gate(s));
        server.on("tlsClientError", (err, s) => this.log.debug({ remote: s.remoteAddress, err: describeError(err) }, "TLS handshake failed"));
        return this.listenStream(spec, server);
      }
      case "ws":
      case "wss":
        return this.listenWs(spec);
    }
  }

  private listenInternal(spec: ListenSpec): Promise<Listener> {
    const peerTls = this.opts.peerTls;
    if (!peerTls) throw new Error("the internal listener needs the member's TLS identity (peerTls)");
    const server = tls.createServer({ ...peerTls.server(), handshakeTimeout: this.limits.headerTimeoutMs });
    peerTls.follow?.(server);
    server.on("connection", (s: net.Socket) => this.gate(s));
    server.on("secureConnection", (s: tls.TLSSocket) => {
      const verdict = peerTls.authorize(s);
      if (!verdict.ok) {
        this.log.warn({ remote: `${s.remoteAddress}:${s.remotePort}`, reason: verdict.reason }, "internal SIP connection refused");
        s.destroy();
        return;
      }
      this.accept("tls", s, undefined, undefined, verdict.peer);
    });
    server.on("tlsClientError", (err, s) => this.log.warn({ remote: s.remoteAddress, err: describeError(err) }, "internal SIP TLS handshake failed"));
    return this.listenStream(spec, server);
  }

  /** A connection to another member's internal listener (reused while open). */
  private peerConnection(dest: Address): Flow | undefined {
    const peerTls = this.opts.peerTls;
    if (!peerTls) return undefined;
    const key = `peer:${dest.address}:${dest.port}`;
    const existing = this.byRemote.get(key);
    const reuse = existing ? this.flows.get(existing) : undefined;
    if (reuse && !reuse.closed) return reuse;
    const own = this.listeners.find((l) => l.spec.internal);
    const socket = tls.connect({ host: dest.address, port: dest.port, ...(own ? { localAddress: own.spec.host } : {}), ...peerTls.client() });
    const flow = this.accept("tls", socket, dest, undefined, "?");
    socket.once("secureConnect", () => {
      const verdict = peerTls.authorize(socket, dest);
      if (verdict.ok) flow.peer = verdict.peer;
      else {
        this.log.warn({ remote: `${dest.address}:${dest.port}`, reason: verdict.reason }, "internal SIP peer refused");
        socket.destroy();
      }
    });
    this.byRemote.set(key, flow.id);
    return flow;
  }

  private listenUdp(spec: ListenSpec): Promise<Listener> {
    return new Promise((resolve, reject) => {
      const buffer = this.opts.udpBufferBytes ?? DEFAULT_UDP_BUFFER;
      const socket = dgram.createSocket({ type: net.isIPv6(spec.host) ? "udp6" : "udp4", reuseAddr: false, recvBufferSize: buffer, sendBufferSize: buffer, lookup: literalLookup });
      socket.once("error", reject);
      socket.bind(spec.port, spec.host, () => {
        socket.off("error", reject);
        socket.on("error", (err) => this.log.warn({ err: describeError(err) }, "UDP socket error"));
        const local = { address: spec.host, port: socket.address().port };
        this.udpSockets.set(`${local.address}:${local.port}`, { socket, local });
        socket.on("message", (data, rinfo) => {
          // CRLF keepalives over UDP carry no message.
          if (data.length <= 4 && data.every((b) => b === 13 || b === 10)) return;
          const started = this.costClock();
          const flow = new UdpFlow(socket, local, { address: rinfo.address, port: rinfo.port });
          if (this.admitted(flow)) this.deliver(parseMessage(data, this.parseOptions()), flow);
          this.measured(started, flow, data);
        });
        resolve({ spec, port: local.port, close: () => new Promise((r) => socket.close(() => r())) });
      });
    });
  }

  private listenStream(spec: ListenSpec, server: net.Server): Promise<Listener> {
    return new Promise((resolve, reject) => {
      server.once("error", reject);
      server.listen(spec.port, spec.host, () => {
        server.off("error", reject);
        const port = (server.address() as net.AddressInfo).port;
        resolve({ spec, port, close: () => new Promise((r) => server.close(() => r())) });
      });
    });
  }

  private listenWs(spec: ListenSpec): Promise<Listener> {
    const secure = spec.transport === "wss";
    if (secure && !this.opts.tls) throw new Error("a wss listener needs a certificate and key");
    const server = secure ? https.createServer({ cert: this.opts.tls!.cert, key: this.opts.tls!.key }) : http.createServer();
    server.on("request", (_req, res) => {
      res.writeHead(426, { "content-type": "text/plain" }).end("SIP over WebSocket (RFC 7118): upgrade with subprotocol sip\n");
    });
    server.on("connection", (s: net.Socket) => this.gate(s));
    // The HTTP upgrade request is the header of a WebSocket connection: same deadline.
    server.headersTimeout = this.limits.headerTimeoutMs;
    server.requestTimeout = this.limits.headerTimeoutMs;
    const wss = new WebSocketServer({ server, handleProtocols: (protocols) => (protocols.has("sip") ? "sip" : false), maxPayload: this.opts.maxMessage ?? 65_535 });
    wss.on("connection", (ws, req) => this.acceptWs(spec.transport, ws, req.socket, { address: spec.host, port: (server.address() as net.AddressInfo).port }));
    return new Promise((resolve, reject) => {
      server.once("error", reject);
      server.listen(spec.port, spec.host, () => {
        server.off("error", reject);
        resolve({
          spec,
          port: (server.address() as net.AddressInfo).port,
          close: () =>
            new Promise((r) => {
              wss.close();
              server.close(() => r());
            }),
        });
      });
    });
  }

  private connect(transport: "tcp" | "tls", dest: Address & { servername?: string }): Flow {
    const socket =
      transport === "tcp"
        ? net.connect({ host: dest.address, port: dest.port })
        : tls.connect({
            host: dest.address,
            port: dest.port,
            ...(this.opts.tls ? { cert: this.opts.tls.cert, key: this.opts.tls.key } : {}),
            ...(this.opts.tls?.ca ? { ca: this.opts.tls.ca } : {}),
            rejectUnauthorized: this.opts.tls?.rejectUnauthorized ?? true,
            ...(dest.servername !== undefined ? { servername: dest.servername } : net.isIP(dest.address) ? {} : { servername: dest.address }),
          });
    return this.accept(transport, socket, dest, reuseKey({ ...dest, transport }));
  }

  /**
   * An outgoing WebSocket connection (RFC 7118), subprotocol `sip`, to
   * `ws(s)://address:port/`; for wss the certificate must name `servername`
   * (else the address). Messages sent before the handshake completes wait
   * for it; the connection is reused like a TCP one.
   */
  private connectWs(transport: "ws" | "wss", dest: Address & { servername?: string }): Flow {
    const id = `${transport}#${connectionId()}`;
    const host = net.isIPv6(dest.address) ? `[${dest.address}]` : dest.address;
    const tlsOpts = this.opts.tls;
    const ws = new WebSocket(`${transport}://${host}:${dest.port}/`, "sip", {
      maxPayload: this.opts.maxMessage ?? 65_535,
      handshakeTimeout: 10_000,
      ...(transport === "wss"
        ? {
            ...(tlsOpts ? { cert: tlsOpts.cert, key: tlsOpts.key } : {}),
            ...(tlsOpts?.ca ? { ca: tlsOpts.ca } : {}),
            rejectUnauthorized: tlsOpts?.rejectUnauthorized ?? true,
            ...(dest.servername !== undefined ? { servername: dest.servername } : net.isIP(dest.address) ? {} : { servername: dest.address }),
          }
        : {}),
    });
    const queue: Buffer[] = [];
    let closed = false;
    const remote = { address: dest.address, port: dest.port };
    const local = { address: "0.0.0.0", port: 0 };
    const flow = new SocketFlow(id, transport, local, remote, (d) => {
      if (ws.readyState === WebSocket.OPEN) ws.send(d.toString("utf8"));
      else queue.push(d);
      return true;
    }, () => closed);
    const key = reuseKey({ ...dest, transport });
    this.flows.set(id, flow);
    this.byRemote.set(key, id);
    const handle = { destroy: () => ws.terminate() };
    this.connections.add(handle);
    this.stats.connections++;
    ws.on("open", () => {
      for (const d of queue.splice(0)) ws.send(d.toString("utf8"));
    });
    ws.on("message", (data: Buffer) => this.receiveWs(data, flow));
    ws.on("error", (err) => this.log.debug({ flow: id, err: describeError(err) }, "WebSocket connection error"));
    ws.on("close", () => {
      closed = true;
      queue.length = 0;
      this.flows.delete(id);
      if (this.byRemote.get(key) === id) this.byRemote.delete(key);
      this.connections.delete(handle);
    });
    return flow;
  }

  private accept(transport: "tcp" | "tls", socket: net.Socket, dest?: Address, outboundKey?: string, peer?: string): SocketFlow {
    const id = `${transport}#${connectionId()}`;
    const inbound = dest === undefined;
    const remote = dest ?? { address: normalizeAddress(socket.remoteAddress), port: socket.remotePort ?? 0 };
    const local = { address: normalizeAddress(socket.localAddress), port: socket.localPort ?? 0 };
    // write() returning false is back-pressure, not failure: the bytes are queued and sent.
    const flow = new SocketFlow(id, transport, local, remote, (d) => (socket.write(d), !socket.destroyed), () => socket.destroyed || !socket.writable, peer);
    const key = outboundKey ?? `${transport}:${remote.address}:${remote.port}`;
    const aliases = [key];
    this.flows.set(id, flow);
    this.byRemote.set(key, id);
    this.connections.add(socket);
    this.stats.connections++;
    const framer = new StreamFramer(this.opts.maxMessage, this.parseOpts.limits);
    socket.setNoDelay(true);
    socket.setTimeout(this.limits.idleMs, () => {
      this.stats.connectionsRefused++;
      this.log.debug({ flow: id }, "idle connection closed");
      socket.destroy();
    });
    // A client's connection must bring its first message, and each message once begun, within the header timeout.
    let deadline: ReturnType<typeof setTimeout> | undefined;
    const armDeadline = () => {
      deadline = setTimeout(() => {
        this.stats.connectionsRefused++;
        this.log.info({ flow: id, remote: `${remote.address}:${remote.port}`, buffered: framer.buffered }, "SIP message not complete within the header timeout, closing connection");
        socket.destroy();
      }, this.limits.headerTimeoutMs);
      deadline.unref();
    };
    if (inbound) armDeadline();
    let delivered = false;
    socket.on("data", (chunk: Buffer) => {
      const started = this.costClock();
      for (const ev of framer.push(chunk)) {
        if (ev.kind === "ping") socket.write("\r\n");
        else if (ev.kind === "fatal") {
          this.stats.parseErrors++;
          this.log.warn({ flow: id, remote: `${remote.address}:${remote.port}`, reason: ev.reason }, "SIP stream framing error, closing connection");
          socket.destroy();
        } else if (ev.kind === "message") {
          delivered = true;
          if (!this.admitted(flow)) continue;
          const alias = this.deliver(ev.result, flow);
          if (alias) {
            const akey = `${transport}:${alias.address}:${alias.port}`;
            if (!this.byRemote.has(akey)) {
              this.byRemote.set(akey, id);
              aliases.push(akey);
            }
          }
        }
      }
      if (inbound) {
        if (framer.buffered > 0 || !delivered) {
          if (deadline === undefined) armDeadline();
        } else if (deadline !== undefined) {
          clearTimeout(deadline);
          deadline = undefined;
        }
      }
      this.measured(started, flow, chunk);
    });
    socket.on("error", (err) => this.log.debug({ flow: id, err: describeError(err) }, "connection error"));
    socket.on("close", () => {
      if (deadline !== undefined) clearTimeout(deadline);
      this.flows.delete(id);
      for (const k of aliases) if (this.byRemote.get(k) === id) this.byRemote.delete(k);
      this.connections.delete(socket);
    });
    return flow;
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

  private acceptWs(transport: TransportName, ws: WebSocket, socket: net.Socket, local: Address): void {
    const id = `${transport}#${connectionId()}`;
    const remote = { address: normalizeAddress(socket.remoteAddress), port: socket.remotePort ?? 0 };
    const flow = new SocketFlow(id, transport, local, remote, (d) => {
      ws.send(d.toString("utf8"));
      return true;
    }, () => ws.readyState !== ws.OPEN);
    this.flows.set(id, flow);
    const handle = { destroy: () => ws.terminate() };
    this.connections.add(handle);
    this.stats.connections++;
    socket.setTimeout(this.limits.idleMs, () => {
      this.stats.connectionsRefused++;
      this.log.debug({ flow: id }, "idle WebSocket connection closed");
      ws.terminate();
    });
    ws.on("message", (data: Buffer) => this.receiveWs(data, flow));
    ws.on("close", () => {
      this.flows.delete(id);
      this.connections.delete(handle);
    });
    ws.on("error", () => undefined);
  }

  private receiveWs(data: Buffer, flow: Flow): void {
    if (data.length <= 4 && data.every((b) => b === 13 || b === 10)) return;
    const started = this.costClock();
    if (this.admitted(flow)) this.deliver(parseMessage(Buffer.isBuffer(data) ? data : Buffer.from(data), this.parseOptions()), flow);
    this.measured(started, flow, data);
  }

  /** Record what handling `bytes` cost since `started`; report it when slow. */
  private measured(started: number, flow: Flow, bytes: Buffer): void {
    const us = (this.costClock() - started) * 1000;
    this.cost.record(us);
    if (us > SLOW_MESSAGE_US && slowMessageChannel.hasSubscribers) slowMessageChannel.publish({ transport: flow.transport, remote: flow.remote, bytes, costUs: us });
  }

  private admitted(flow: Flow): boolean {
    if (this.admit(flow)) return true;
    this.stats.refused++;
    return false;
  }

  private parseOptions(): { maxMessage?: number; limits?: MessageLimits } {
    return this.parseOpts;
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
      this.onMessage({ message, flow });
    } catch (err) {
      this.log.error({ err: describeError(err) }, "message handler failed");
    }
    return alias;
  }
}

/**
 * A connection id: random (96 bits), so nobody can guess the id of another
 * client's connection (ids travel in flow tokens and bindings).
 */
function connectionId(): string {
  return randomBase64Url(12);
}

function hostPort(l: Listener): { host: string; port: number } {
  const host = l.spec.advertise ?? l.spec.host;
  return { host: host.includes(":") && !host.startsWith("[") ? `[${host}]` : host, port: l.port };
}

/**
 * The key under which a connection is reused for requests to `dest`. A
 * secure connection we opened to a SIP domain is reused for that domain
 * only: its certificate was checked against that name (RFC 5922), not
 * against any other domain served at the same address.
 */
function reuseKey(dest: Address & { transport: TransportName; servername?: string }): string {
  const base = `${dest.transport}:${dest.address}:${dest.port}`;
  return (dest.transport === "tls" || dest.transport === "wss") && dest.servername !== undefined ? `${base}/${dest.servername}` : base;
}

function statusReason(status: number, reason: string): string {
  const base = status === 505 ? "Version Not Supported" : status === 413 ? "Request Entity Too Large" : status === 513 ? "Message Too Large" : "Bad Request";
  return `${base} (${reason.slice(0, 100)})`;
}

function normalizeAddress(a: string | undefined): string {
  if (!a) return "?";
  return a.startsWith("::ffff:") ? a.slice(7) : a;
}

/**
 * RFC 3261 18.2.1 and RFC 3581: add `received` when the Via host differs
 * from the source address, and fill `rport`. Returns the Via sent-by as an
 * alias when an authenticated TLS peer asked for connection reuse (`;alias`).
 */
function stampReceived(req: SipRequest, flow: Flow): Address | undefined {
  const via = req.via;
  if (!via) return undefined;
  let changed = false;
  const host = via.host.replace(/^\[|\]$/g, "");
  if (host !== flow.remote.address) {
    via.params.set("received", flow.remote.address);
    changed = true;
  }
  if (via.params.has("rport") && via.params.get("rport") === null) {
    via.params.set("rport", String(flow.remote.port));
    if (!changed) via.params.set("received", flow.remote.address);
    changed = true;
  }
  if (changed) {
    req.shift("via");
    req.prepend("via", formatVia(via));
  }
  // RFC 5923 5: alias only on TLS whose peer was authenticated with a certificate (our members); from
  // anyone else it would let them capture what we later send to the address they name.
  return flow.transport === "tls" && flow.peer !== undefined && flow.peer !== "?" && via.params.has("alias") ? { address: host, port: via.port ?? 5061 } : undefined;
}

/** The fields of `o` that are set (so that `{ ...defaults, ...definedOnly(o) }` keeps defaults for the others). */
function definedOnly<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
