/**
 * The SIP transport layer (RFC 3261 18, RFC 3581, RFC 5626 3.5.1, RFC 7118):
 * UDP, TCP, TLS and WebSocket listeners; connection reuse for responses and
 * for requests to a peer we already have a connection with (and the
 * `alias` a peer offers, RFC 5923 style); `received`/`rport` stamped on
 * incoming requests; CRLF keepalive answered; idle connections closed;
 * malformed requests answered 400 with the reason, or dropped (with a log
 * line) when no answer can be formed.
 */
import dgram from "node:dgram";
import net from "node:net";
import tls from "node:tls";
import http from "node:http";
import https from "node:https";
import { WebSocket, WebSocketServer } from "ws";
import { describeError, type Logger } from "../../base/index.js";
import { createResponse, formatVia, parseMessage, randomBase64Url, serializeMessage, StreamFramer, type ParseResult, type SipRequest } from "../message/index.js";
import { isReliable, type Address, type Flow, type Inbound, type ListenSpec, type TransportName } from "./types.js";

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
  /** Connections idle this long are closed. @default 600 s */
  idleMs?: number;
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

export interface PeerTls {
  server(): tls.TlsOptions;
  client(): tls.ConnectionOptions;
  authorize(socket: tls.TLSSocket): { ok: true; peer: string } | { ok: false; reason: string };
}

export interface TransportStats {
  received: number;
  sent: number;
  parseErrors: number;
  connections: number;
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

class UdpFlow implements Flow {
  readonly transport = "udp" as const;
  readonly reliable = false;
  readonly closed = false;
  readonly id: string;
  constructor(
    private readonly socket: dgram.Socket,
    readonly local: Address,
    readonly remote: Address,
  ) {
    this.id = `udp:${local.address}:${local.port}/${remote.address}:${remote.port}`;
  }
  send(data: Buffer): boolean {
    this.socket.send(data, this.remote.port, this.remote.address);
    return true;
  }
}

const DEFAULT_IDLE_MS = 600_000;
/** @default 4 MiB (the kernel caps it at net.core.rmem_max / wmem_max) */
const DEFAULT_UDP_BUFFER = 4 * 1024 * 1024;

export class TransportLayer {
  onMessage: (inbound: Inbound) => void;
  readonly stats: TransportStats = { received: 0, sent: 0, parseErrors: 0, connections: 0 };
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
    this.stats.sent++;
    return flow.send(data);
  }

  /**
   * Send to an address: over an existing connection or alias to that peer,
   * else a new connection (TCP, TLS, WS, WSS) or our UDP socket. Returns the
   * flow, or undefined when we have no UDP socket of that address family.
   */
  sendTo(dest: Address & { transport: TransportName; servername?: string; internal?: boolean }, data: Buffer): Flow | undefined {
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
      this.sendOn(flow, data);
      return flow;
    }
    const flow = dest.transport === "tcp" || dest.transport === "tls" ? this.connect(dest.transport, dest) : this.connectWs(dest.transport, dest);
    this.sendOn(flow, data);
    return flow;
  }

  private async listen(spec: ListenSpec): Promise<Listener> {
    switch (spec.transport) {
      case "udp":
        return this.listenUdp(spec);
      case "tcp":
        return this.listenStream(spec, net.createServer((s) => this.accept("tcp", s)));
      case "tls": {
        if (spec.internal) return this.listenInternal(spec);
        if (!this.opts.tls) throw new Error("a tls listener needs a certificate and key");
        const server = tls.createServer({ cert: this.opts.tls.cert, key: this.opts.tls.key, minVersion: "TLSv1.2" }, (s) => this.accept("tls", s));
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
    const server = tls.createServer(peerTls.server());
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
      const verdict = peerTls.authorize(socket);
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
      const socket = dgram.createSocket({ type: net.isIPv6(spec.host) ? "udp6" : "udp4", reuseAddr: false, recvBufferSize: buffer, sendBufferSize: buffer });
      socket.once("error", reject);
      socket.bind(spec.port, spec.host, () => {
        socket.off("error", reject);
        socket.on("error", (err) => this.log.warn({ err: describeError(err) }, "UDP socket error"));
        const local = { address: spec.host, port: socket.address().port };
        this.udpSockets.set(`${local.address}:${local.port}`, { socket, local });
        socket.on("message", (data, rinfo) => {
          // CRLF keepalives over UDP carry no message.
          if (data.length <= 4 && data.every((b) => b === 13 || b === 10)) return;
          this.deliver(parseMessage(data, { maxMessage: this.opts.maxMessage }), new UdpFlow(socket, local, { address: rinfo.address, port: rinfo.port }));
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
    const wss = new WebSocketServer({ server, handleProtocols: (protocols) => (protocols.has("sip") ? "sip" : false), maxPayload: this.opts.maxMessage ?? 65_535 });
    wss.on("connection", (ws, req) => this.acceptWs(spec.transport, ws, { address: req.socket.remoteAddress ?? "?", port: req.socket.remotePort ?? 0 }, { address: spec.host, port: (server.address() as net.AddressInfo).port }));
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
    ws.on("message", (data: Buffer) => {
      if (data.length <= 4 && data.every((b) => b === 13 || b === 10)) return;
      this.deliver(parseMessage(Buffer.isBuffer(data) ? data : Buffer.from(data), { maxMessage: this.opts.maxMessage }), flow);
    });
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
    const framer = new StreamFramer(this.opts.maxMessage);
    socket.setNoDelay(true);
    socket.setTimeout(this.opts.idleMs ?? DEFAULT_IDLE_MS, () => {
      this.log.debug({ flow: id }, "idle connection closed");
      socket.destroy();
    });
    socket.on("data", (chunk: Buffer) => {
      for (const ev of framer.push(chunk)) {
        if (ev.kind === "ping") socket.write("\r\n");
        else if (ev.kind === "fatal") {
          this.stats.parseErrors++;
          this.log.warn({ flow: id, remote: `${remote.address}:${remote.port}`, reason: ev.reason }, "SIP stream framing error, closing connection");
          socket.destroy();
        } else if (ev.kind === "message") {
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
    });
    socket.on("error", (err) => this.log.debug({ flow: id, err: describeError(err) }, "connection error"));
    socket.on("close", () => {
      this.flows.delete(id);
      for (const k of aliases) if (this.byRemote.get(k) === id) this.byRemote.delete(k);
      this.connections.delete(socket);
    });
    return flow;
  }

  private acceptWs(transport: TransportName, ws: WebSocket, remote: Address, local: Address): void {
    const id = `${transport}#${connectionId()}`;
    const flow = new SocketFlow(id, transport, local, { address: normalizeAddress(remote.address), port: remote.port }, (d) => {
      ws.send(d.toString("utf8"));
      return true;
    }, () => ws.readyState !== ws.OPEN);
    this.flows.set(id, flow);
    this.connections.add({ destroy: () => ws.terminate() });
    this.stats.connections++;
    ws.on("message", (data: Buffer) => {
      if (data.length <= 4 && data.every((b) => b === 13 || b === 10)) return;
      this.deliver(parseMessage(Buffer.isBuffer(data) ? data : Buffer.from(data), { maxMessage: this.opts.maxMessage }), flow);
    });
    ws.on("close", () => this.flows.delete(id));
    ws.on("error", () => undefined);
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
  const base = status === 505 ? "Version Not Supported" : status === 413 ? "Message Too Large" : "Bad Request";
  return `${base} (${reason.slice(0, 100)})`;
}

function normalizeAddress(a: string | undefined): string {
  if (!a) return "?";
  return a.startsWith("::ffff:") ? a.slice(7) : a;
}

/**
 * RFC 3261 18.2.1 and RFC 3581: add `received` when the Via host differs
 * from the source address, and fill `rport`. Returns the Via sent-by as an
 * alias when the peer asked for connection reuse (`;alias`).
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
  return isReliable(flow.transport) && via.params.has("alias") ? { address: host, port: via.port ?? 5060 } : undefined;
}
