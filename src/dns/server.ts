/**
 * The sockets of `thor dns`: one UDP socket and one TCP listener per listen
 * address (IPv4 or IPv6), both on the same port, feeding a {@link Responder}.
 * TCP follows RFC 7766: two-byte length framing, several queries per
 * connection answered in order, idle connections closed.
 */
import dgram from "node:dgram";
import net from "node:net";
import { describeError, type Logger } from "../base/index.js";
import { malformedChannel, queryChannel } from "./diagnostics.js";
import { DnsListenError } from "./errors.js";
import { DEFAULT_TCP_IDLE_MS, DEFAULT_TCP_MAX_CONNECTIONS } from "./options.js";
import type { RateLimiter } from "./rate-limit.js";
import type { Responder, Transport } from "./responder.js";

export interface ListenAddress {
  host: string;
  /** 0: any free port (the same one for UDP and TCP). */
  port: number;
}

export interface DnsServerOptions {
  responder: Responder;
  logger: Logger;
  listen: readonly ListenAddress[];
  /** @default DEFAULT_TCP_IDLE_MS */
  tcpIdleMs?: number;
  /** @default DEFAULT_TCP_MAX_CONNECTIONS */
  tcpMaxConnections?: number;
  /** UDP response rate limiting; none when absent. */
  rateLimiter?: RateLimiter;
}

export interface DnsServerStats {
  udpQueries: number;
  tcpQueries: number;
  malformed: number;
  truncated: number;
  /** UDP responses dropped or slipped by rate limiting. */
  rateLimited: number;
}

export class DnsServer {
  private readonly udp: dgram.Socket[] = [];
  private readonly tcp: net.Server[] = [];
  private readonly connections = new Set<net.Socket>();
  private bound: ListenAddress[] = [];
  readonly stats: DnsServerStats = { udpQueries: 0, tcpQueries: 0, malformed: 0, truncated: 0, rateLimited: 0 };

  constructor(private readonly opts: DnsServerOptions) {}

  /** The addresses actually bound (ports resolved). */
  addresses(): readonly ListenAddress[] {
    return this.bound;
  }

  async start(): Promise<readonly ListenAddress[]> {
    try {
      for (const addr of this.opts.listen) {
        const port = await this.listenUdp(addr);
        await this.listenTcp({ host: addr.host, port });
        this.bound.push({ host: addr.host, port });
      }
    } catch (err) {
      await this.stop();
      throw err;
    }
    return this.bound;
  }

  async stop(): Promise<void> {
    for (const s of this.connections) s.destroy();
    this.connections.clear();
    await Promise.all(this.udp.map((s) => new Promise<void>((r) => s.close(() => r()))));
    await Promise.all(this.tcp.map((s) => new Promise<void>((r) => s.close(() => r()))));
    this.udp.length = 0;
    this.tcp.length = 0;
    this.bound = [];
  }

  private listenUdp(addr: ListenAddress): Promise<number> {
    const family = net.isIP(addr.host);
    if (family === 0) return Promise.reject(new DnsListenError(`listen address "${addr.host}" is not an IP address`));
    const socket = dgram.createSocket({ type: family === 6 ? "udp6" : "udp4", ipv6Only: family === 6 });
    return new Promise<number>((resolve, reject) => {
      socket.once("error", (err) => reject(new DnsListenError(`UDP ${addr.host}:${addr.port}: ${describeError(err)}`, { cause: err })));
      socket.bind(addr.port, addr.host, () => {
        socket.removeAllListeners("error");
        socket.on("error", (err) => this.opts.logger.warn({ err: describeError(err) }, "UDP socket error"));
        socket.on("message", (msg, rinfo) => this.onDatagram(socket, msg, rinfo));
        this.udp.push(socket);
        resolve(socket.address().port);
      });
    });
  }

  private onDatagram(socket: dgram.Socket, msg: Buffer, rinfo: dgram.RemoteInfo): void {
    const decision = this.opts.rateLimiter?.decide(rinfo.address) ?? "send";
    if (decision !== "send") this.stats.rateLimited++;
    if (decision === "drop") return;
    const out = this.handle(msg, "udp", `${rinfo.address}:${rinfo.port}`, decision === "slip");
    // Send errors (e.g. ICMP unreachable) surface on the socket's "error" event.
    if (out) socket.send(out, rinfo.port, rinfo.address);
  }

  private listenTcp(addr: ListenAddress): Promise<void> {
    const server = net.createServer({ allowHalfOpen: false }, (s) => this.onConnection(s));
    server.maxConnections = this.opts.tcpMaxConnections ?? DEFAULT_TCP_MAX_CONNECTIONS;
    return new Promise<void>((resolve, reject) => {
      server.once("error", (err) => reject(new DnsListenError(`TCP ${addr.host}:${addr.port}: ${describeError(err)}`, { cause: err })));
      server.listen({ host: addr.host, port: addr.port, ipv6Only: net.isIP(addr.host) === 6 }, () => {
        server.removeAllListeners("error");
        server.on("error", (err) => this.opts.logger.warn({ err: describeError(err) }, "TCP listener error"));
        this.tcp.push(server);
        resolve();
      });
    });
  }

  private onConnection(socket: net.Socket): void {
    this.connections.add(socket);
    const remote = `${socket.remoteAddress}:${socket.remotePort}`;
    socket.setNoDelay(true);
    socket.setTimeout(this.opts.tcpIdleMs ?? DEFAULT_TCP_IDLE_MS, () => socket.destroy());
    socket.on("error", () => socket.destroy());
    socket.on("close", () => this.connections.delete(socket));
    let pending: Buffer = Buffer.alloc(0);
    socket.on("data", (chunk: Buffer) => {
      pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
      while (pending.length >= 2) {
        const len = pending.readUInt16BE(0);
        if (len === 0) {
          socket.destroy();
          return;
        }
        if (pending.length < 2 + len) break;
        const msg = pending.subarray(2, 2 + len);
        pending = pending.subarray(2 + len);
        const out = this.handle(msg, "tcp", remote);
        if (!out) continue;
        const frame = Buffer.allocUnsafe(2 + out.length);
        frame.writeUInt16BE(out.length, 0);
        out.copy(frame, 2);
        // A reader that does not read its answers is not waited for.
        if (!socket.write(frame) && socket.writableLength > 1 << 20) socket.destroy();
      }
    });
  }

  private handle(msg: Buffer, transport: Transport, remote: string, slip = false): Buffer | undefined {
    if (transport === "udp") this.stats.udpQueries++;
    else this.stats.tcpQueries++;
    const out = this.opts.responder.respond(msg, transport, slip);
    if (out.kind === "malformed") {
      this.stats.malformed++;
      malformedChannel.publish({ transport, remote, reason: out.reason, answered: out.bytes !== undefined });
      this.opts.logger.debug({ transport, remote, reason: out.reason }, "malformed DNS message");
      return out.bytes;
    }
    if (out.truncated && !slip) this.stats.truncated++;
    queryChannel.publish({ transport, qtype: out.qtype, rcode: out.rcode, truncated: out.truncated });
    return out.bytes;
  }
}
