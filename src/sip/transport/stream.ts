/**
 * SIP over TCP and TLS (RFC 3261 18, 18.3 framing): listeners, accepted
 * and dialled connections, each a flow; the internal (member-to-member)
 * listener and connections with mutual TLS through {@link PeerTls}.
 *
 * Limits: connection caps (checked before any TLS work), a header timeout
 * for a client's first message and for each message once begun, an idle
 * timeout. A framing error closes the connection.
 */
import net from "node:net";
import tls from "node:tls";
import { describeError, turnWriter } from "../../base/index.js";
import { StreamFramer } from "../message/index.js";
import type { TransportContext } from "./context.js";
import { connectionId, normalizeAddress, reuseKey, servernameOf, SocketFlow } from "./flows.js";
import type { Listener } from "./udp.js";
import type { Address, Flow, ListenSpec } from "./types.js";

export class StreamTransport {
  constructor(
    private readonly ctx: TransportContext,
    /** The internal listener's host, to dial other members from (their certificates bind our address). */
    private readonly internalHost: () => string | undefined,
  ) {}

  listenTcp(spec: ListenSpec): Promise<Listener> {
    const server = net.createServer();
    server.on("connection", (s: net.Socket) => {
      if (this.ctx.gate(s)) this.accept("tcp", s);
    });
    return listenOn(spec, server);
  }

  listenTls(spec: ListenSpec): Promise<Listener> {
    const { ctx } = this;
    if (spec.internal) return this.listenInternal(spec);
    if (!ctx.tls) throw new Error("a tls listener needs a certificate and key");
    const server = tls.createServer({ cert: ctx.tls.cert, key: ctx.tls.key, minVersion: "TLSv1.2", handshakeTimeout: ctx.limits.headerTimeoutMs }, (s) => this.accept("tls", s));
    server.on("connection", (s: net.Socket) => ctx.gate(s));
    server.on("tlsClientError", (err, s) => ctx.log.debug({ remote: s.remoteAddress, err: describeError(err) }, "TLS handshake failed"));
    return listenOn(spec, server);
  }

  private listenInternal(spec: ListenSpec): Promise<Listener> {
    const { ctx } = this;
    const peerTls = ctx.peerTls;
    if (!peerTls) throw new Error("the internal listener needs the member's TLS identity (peerTls)");
    const server = tls.createServer({ ...peerTls.server(), handshakeTimeout: ctx.limits.headerTimeoutMs });
    peerTls.follow?.(server);
    server.on("connection", (s: net.Socket) => ctx.gate(s));
    server.on("secureConnection", (s: tls.TLSSocket) => {
      const verdict = peerTls.authorize(s);
      if (!verdict.ok) {
        ctx.log.warn({ remote: `${s.remoteAddress}:${s.remotePort}`, reason: verdict.reason }, "internal SIP connection refused");
        s.destroy();
        return;
      }
      this.accept("tls", s, undefined, undefined, verdict.peer);
    });
    server.on("tlsClientError", (err, s) => ctx.log.warn({ remote: s.remoteAddress, err: describeError(err) }, "internal SIP TLS handshake failed"));
    return listenOn(spec, server);
  }

  /** A connection to another member's internal listener (reused while open). */
  peerConnection(dest: Address): Flow | undefined {
    const { ctx } = this;
    const peerTls = ctx.peerTls;
    if (!peerTls) return undefined;
    const key = `peer:${dest.address}:${dest.port}`;
    const reuse = ctx.flows.reuse(key);
    if (reuse) return reuse;
    const localAddress = this.internalHost();
    const socket = tls.connect({ host: dest.address, port: dest.port, ...(localAddress !== undefined ? { localAddress } : {}), ...peerTls.client() });
    const flow = this.accept("tls", socket, dest, undefined, "?");
    // Member links are few and long-lived: their life is logged (a slow handshake holds every message queued on it).
    const opened = Date.now();
    const remote = `${dest.address}:${dest.port}`;
    socket.once("close", () => ctx.log.info({ flow: flow.id, remote, openMs: Date.now() - opened, unsent: socket.writableLength }, "internal SIP peer connection closed"));
    socket.once("secureConnect", () => {
      const verdict = peerTls.authorize(socket, dest);
      ctx.log.info({ flow: flow.id, remote, handshakeMs: Date.now() - opened, ok: verdict.ok }, "internal SIP peer connection set up");
      if (verdict.ok) flow.peer = verdict.peer;
      else {
        ctx.log.warn({ remote: `${dest.address}:${dest.port}`, reason: verdict.reason }, "internal SIP peer refused");
        socket.destroy();
      }
    });
    ctx.flows.point(key, flow.id);
    return flow;
  }

  /** A new connection to `dest` (TCP, or TLS checking the certificate against `servername`). */
  connect(transport: "tcp" | "tls", dest: Address & { servername?: string }): Flow {
    const { ctx } = this;
    const socket =
      transport === "tcp"
        ? net.connect({ host: dest.address, port: dest.port })
        : tls.connect({
            host: dest.address,
            port: dest.port,
            ...(ctx.tls ? { cert: ctx.tls.cert, key: ctx.tls.key } : {}),
            ...(ctx.tls?.ca ? { ca: ctx.tls.ca } : {}),
            rejectUnauthorized: ctx.tls?.rejectUnauthorized ?? true,
            ...servernameOf(dest, (a) => net.isIP(a) !== 0),
          });
    return this.accept(transport, socket, dest, reuseKey({ ...dest, transport }));
  }

  private accept(transport: "tcp" | "tls", socket: net.Socket, dest?: Address, outboundKey?: string, peer?: string): SocketFlow {
    const { ctx } = this;
    const id = connectionId(transport);
    const inbound = dest === undefined;
    const remote = dest ?? { address: normalizeAddress(socket.remoteAddress), port: socket.remotePort ?? 0 };
    const local = { address: normalizeAddress(socket.localAddress), port: socket.localPort ?? 0 };
    // write() returning false is back-pressure, not failure: the bytes are queued and sent. The messages of
    // one loop turn leave together (one TLS record, one system call: a member link carries many per turn).
    const write = turnWriter(socket);
    const flow = new SocketFlow(id, transport, local, remote, (d) => (write(d), !socket.destroyed), () => socket.destroyed || !socket.writable, peer);
    const key = outboundKey ?? `${transport}:${remote.address}:${remote.port}`;
    const aliases = [key];
    ctx.flows.add(flow, key, socket);
    ctx.stats.connections++;
    const framer = new StreamFramer(ctx.maxMessage, ctx.parseOpts.limits);
    socket.setNoDelay(true);
    socket.setTimeout(ctx.limits.idleMs, () => {
      ctx.stats.connectionsRefused++;
      ctx.log.debug({ flow: id }, "idle connection closed");
      socket.destroy();
    });
    // A client's connection must bring its first message, and each message once begun, within the header timeout.
    let deadline: ReturnType<typeof setTimeout> | undefined;
    const armDeadline = () => {
      deadline = setTimeout(() => {
        ctx.stats.connectionsRefused++;
        ctx.log.info({ flow: id, remote: `${remote.address}:${remote.port}`, buffered: framer.buffered }, "SIP message not complete within the header timeout, closing connection");
        socket.destroy();
      }, ctx.limits.headerTimeoutMs);
      deadline.unref();
    };
    if (inbound) armDeadline();
    let delivered = false;
    socket.on("data", (chunk: Buffer) => {
      const started = ctx.costClock();
      for (const ev of framer.push(chunk)) {
        if (ev.kind === "ping") socket.write("\r\n");
        else if (ev.kind === "fatal") {
          ctx.stats.parseErrors++;
          ctx.log.warn({ flow: id, remote: `${remote.address}:${remote.port}`, reason: ev.reason }, "SIP stream framing error, closing connection");
          socket.destroy();
        } else if (ev.kind === "message") {
          delivered = true;
          if (!ctx.admitted(flow)) continue;
          const alias = ctx.deliver(ev.result, flow);
          if (alias) {
            const akey = `${transport}:${alias.address}:${alias.port}`;
            if (ctx.flows.alias(akey, id)) aliases.push(akey);
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
      ctx.measured(started, flow, chunk);
    });
    socket.on("error", (err) => ctx.log.debug({ flow: id, err: describeError(err) }, "connection error"));
    socket.on("close", () => {
      if (deadline !== undefined) clearTimeout(deadline);
      ctx.flows.remove(id, aliases, socket);
      flow.notifyClosed();
    });
    return flow;
  }
}

/** Listen with `server` on the spec's address; resolves with the port bound. */
export function listenOn(spec: ListenSpec, server: net.Server): Promise<Listener> {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(spec.port, spec.host, () => {
      server.off("error", reject);
      const port = (server.address() as net.AddressInfo).port;
      resolve({ spec, port, close: () => new Promise((r) => server.close(() => r())) });
    });
  });
}
