/**
 * `thor eventserver`: publish/subscribe over mutual TLS.
 *
 * Every connection is authorized by passport after the TLS handshake; every
 * publication is checked against the per-topic publish policy and stamped
 * with the publisher's certificate identity, never with what the payload
 * claims. Fan-out serializes each event once. A subscriber whose unsent
 * output grows beyond `maxQueueBytes` is disconnected so it never stalls the
 * others; a protocol error closes only that connection.
 */
import tls from "node:tls";
import type { Socket } from "node:net";
import { describeError, type Logger } from "../base/index.js";
import { formatSubject, matchPassport, MemberLink, roleAllowed, type Passport, type PeerIdentity, type TlsIdentity } from "../pki/index.js";
import { encodeFrame, encodeRaw, FrameDecoder, FrameType, frameTypeName, type Frame } from "./frame-codec.js";
import { publishChannel, refusedChannel } from "./diagnostics.js";
import { DEFAULT_EVENT_PORT, DEFAULT_IDLE_TIMEOUT_MS, DEFAULT_MAX_CONNECTIONS, DEFAULT_MAX_QUEUE_BYTES } from "./options.js";
import { DEFAULT_MAX_FRAME } from "./frame-codec.js";
import { VERSION_TAG } from "./version.js";

export interface EventServerOptions {
  identity: TlsIdentity;
  logger: Logger;
  /** @default "0.0.0.0" */
  host?: string;
  /** @default 8000 */
  port?: number;
  /** Name announced in WELCOME. @default the certificate CN */
  serverId?: string;
  /** Who may connect at all; empty = anyone with a valid certificate of the CA. */
  accept?: Passport[];
  /**
   * topic → who may publish it; topics not listed are open to every accepted
   * peer. A passport attribute `role` is matched against the roles the
   * certificate allows (not its subject).
   */
  publishPolicy?: Record<string, Passport[]>;
  maxFrame?: number;
  maxQueueBytes?: number;
  idleTimeoutMs?: number;
  maxConnections?: number;
}

/** Who may publish what by default: only managers publish membership and elections. */
export const DEFAULT_PUBLISH_POLICY: Record<string, Passport[]> = {
  "Thor.Members": [{ OU: "manager" }],
  "Thor.MembersTable": [{ OU: "manager" }],
  "Thor.Manager": [{ OU: "manager" }],
  "Thor.Database": [{ OU: "database" }, { OU: "manager" }],
  "Thor.Provisioning": [{ OU: "manager" }, { OU: "provisioning" }, { OU: "node", role: "provisioning_server" }],
};

/** True when the publisher matches one of the passports (`role` = a role its certificate allows). */
export function publishAllowed(policy: readonly Passport[], peer: Pick<PeerIdentity, "subject" | "roles">): boolean {
  return policy.some((p) => {
    const { role, ...subject } = p;
    return matchPassport(subject, peer.subject) && (role === undefined || roleAllowed(peer.roles, role));
  });
}

interface Connection {
  readonly id: number;
  readonly socket: tls.TLSSocket;
  readonly peer: PeerIdentity;
  readonly remote: string;
  readonly topics: Set<string>;
  readonly decoder: FrameDecoder;
}

export interface EventServerStats {
  connections: number;
  published: number;
  delivered: number;
  refused: number;
  slowDisconnects: number;
  protocolErrors: number;
  /** Frames over the size limit, skipped with an error to their sender. */
  oversized: number;
}

export class EventServer {
  private readonly server: tls.Server;
  private readonly link: MemberLink;
  private readonly conns = new Set<Connection>();
  private readonly subscribers = new Map<string, Set<Connection>>();
  private readonly sockets = new Set<Socket>();
  private nextId = 1;
  readonly stats: EventServerStats = { connections: 0, published: 0, delivered: 0, refused: 0, slowDisconnects: 0, protocolErrors: 0, oversized: 0 };
  private readonly log: Logger;
  private readonly maxQueue: number;

  constructor(private readonly opts: EventServerOptions) {
    this.log = opts.logger;
    this.maxQueue = opts.maxQueueBytes ?? DEFAULT_MAX_QUEUE_BYTES;
    // Members are admitted by the shared member link: CA, current CRL, passports; revoked peers are cut.
    this.link = new MemberLink({
      identity: opts.identity,
      passports: opts.accept ?? [],
      onRefused: ({ reason, remote, peer, cut }) => this.refuse(peer ? formatSubject(peer.subject) : remote, cut ? `live connection dropped: ${reason}` : reason),
    });
    this.server = this.link.createServer((socket, peer) => this.onSecure(socket, peer));
    this.server.maxConnections = opts.maxConnections ?? DEFAULT_MAX_CONNECTIONS;
    this.server.on("connection", (s: Socket) => {
      this.sockets.add(s);
      s.once("close", () => this.sockets.delete(s));
    });
  }

  async start(): Promise<{ host: string; port: number }> {
    const host = this.opts.host ?? "0.0.0.0";
    await new Promise<void>((resolve, reject) => {
      this.server.once("error", reject);
      this.server.listen(this.opts.port ?? DEFAULT_EVENT_PORT, host, () => {
        this.server.off("error", reject);
        resolve();
      });
    });
    this.server.on("error", (err) => this.log.error({ err: describeError(err) }, "event server socket error"));
    const addr = this.server.address();
    const port = typeof addr === "object" && addr ? addr.port : 0;
    this.log.info({ host, port }, "event server listening");
    return { host, port };
  }

  async stop(): Promise<void> {
    this.link.close();
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    for (const s of this.sockets) s.destroy();
    await closed;
  }

  get connectionCount(): number {
    return this.conns.size;
  }

  private refuse(remote: string, reason: string): void {
    this.stats.refused++;
    this.log.warn({ remote, reason }, "connection refused");
    refusedChannel.publish({ remote, reason });
  }

  private onSecure(socket: tls.TLSSocket, peer: PeerIdentity): void {
    const remote = `${socket.remoteAddress ?? "?"}:${socket.remotePort ?? "?"}`;
    const conn: Connection = {
      id: this.nextId++,
      socket,
      peer,
      remote,
      topics: new Set(),
      decoder: new FrameDecoder(this.opts.maxFrame ?? DEFAULT_MAX_FRAME),
    };
    this.conns.add(conn);
    this.stats.connections++;
    const log = this.log.child({ conn: conn.id, remote, peer: formatSubject(peer.subject) });
    log.info("member connected");
    socket.setNoDelay(true);
    socket.setTimeout(this.opts.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS, () => {
      log.warn("idle timeout, closing");
      socket.destroy();
    });
    socket.on("data", (chunk: Buffer) => {
      for (const result of conn.decoder.push(chunk)) {
        if (!result.ok && result.skipped) {
          // Too large, but well framed: say so and keep the connection (its other traffic, heartbeats included, goes on).
          this.stats.oversized++;
          log.warn({ reason: result.error }, "oversized frame skipped");
          this.send(conn, encodeFrame({ type: FrameType.ERROR, body: { code: "frame-too-large", message: result.error } }));
          continue;
        }
        if (!result.ok) {
          this.stats.protocolErrors++;
          log.warn({ reason: result.error }, "protocol error, closing connection");
          this.send(conn, encodeFrame({ type: FrameType.ERROR, body: { code: "protocol", message: result.error } }));
          socket.end();
          socket.destroySoon();
          return;
        }
        this.onFrame(conn, result.frame, log);
      }
    });
    socket.on("error", (err) => log.debug({ err: describeError(err) }, "socket error"));
    socket.on("close", () => {
      this.conns.delete(conn);
      for (const t of conn.topics) this.subscribers.get(t)?.delete(conn);
      log.info("member disconnected");
    });
    this.send(conn, encodeFrame({ type: FrameType.WELCOME, body: { server: this.opts.serverId ?? this.opts.identity.name, version: VERSION_TAG } }));
  }

  private onFrame(conn: Connection, frame: Frame, log: Logger): void {
    switch (frame.type) {
      case FrameType.SUBSCRIBE:
        for (const t of frame.body.topics) {
          conn.topics.add(t);
          let set = this.subscribers.get(t);
          if (!set) this.subscribers.set(t, (set = new Set()));
          set.add(conn);
        }
        return;
      case FrameType.UNSUBSCRIBE:
        for (const t of frame.body.topics) {
          conn.topics.delete(t);
          this.subscribers.get(t)?.delete(conn);
        }
        return;
      case FrameType.PUBLISH: {
        const { topic, msgId, payload, to } = frame.body;
        const policy = (this.opts.publishPolicy ?? DEFAULT_PUBLISH_POLICY)[topic];
        if (policy && !publishAllowed(policy, conn.peer)) {
          log.warn({ topic }, "publication refused by publish policy");
          this.send(conn, encodeFrame({ type: FrameType.ERROR, body: { code: "forbidden", message: `not allowed to publish ${topic}` } }));
          return;
        }
        this.stats.published++;
        const subs = this.subscribers.get(topic);
        if (!subs || subs.size === 0) {
          publishChannel.publish({ topic, bytes: 0, subscribers: 0 });
          return;
        }
        const buf = encodeRaw(
          FrameType.EVENT,
          JSON.stringify({ topic, msgId, payload, publisher: { subject: conn.peer.subject, roles: conn.peer.roles, ips: conn.peer.ips } }),
        );
        // An addressed publication goes only to the subscribers whose certificate CN is named.
        const only = to ? new Set(to) : undefined;
        let delivered = 0;
        for (const sub of subs) {
          if (only && !only.has(sub.peer.subject["CN"] ?? "")) continue;
          this.send(sub, buf);
          delivered++;
        }
        publishChannel.publish({ topic, bytes: buf.length, subscribers: delivered });
        return;
      }
      case FrameType.PING:
        this.send(conn, encodeFrame({ type: FrameType.PONG, body: {} }));
        return;
      default:
        this.stats.protocolErrors++;
        log.warn({ frame: frameTypeName(frame.type) }, "unexpected frame from a member, closing");
        conn.socket.destroy();
    }
  }

  private send(conn: Connection, buf: Buffer): void {
    const s = conn.socket;
    if (s.destroyed || !s.writable) return;
    if (s.writableLength + buf.length > this.maxQueue) {
      this.stats.slowDisconnects++;
      this.log.warn({ conn: conn.id, remote: conn.remote, queued: s.writableLength }, "subscriber too slow, disconnecting");
      s.destroy();
      return;
    }
    s.write(buf);
    this.stats.delivered++;
  }
}
