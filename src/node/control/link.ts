/**
 * The control link: request/response between nodes over mutual TLS with
 * certificates of the operator CA (DESIGN "Control link"). Each node
 * listens on its control port; calls to a member go over one persistent
 * connection per peer, opened on first use, multiplexed by request id.
 * Peers are admitted by the shared member link (pki `MemberLink`): a
 * CA-verified, unrevoked certificate matching the passports (default
 * `OU=node`), nodes connecting from an address of their certificate; the
 * server we dial must be the member we asked for (its certificate CN is the
 * member id) at an address of its certificate; live connections of revoked
 * peers are cut. What each method allows a peer is the handler's business.
 */
import type tls from "node:tls";
import type net from "node:net";
import { describeError, ThorError, turnWriter, type Logger } from "../../base/index.js";
import { formatSubject, MemberLink, parsePassport, type Passport, type PeerIdentity, type RefusalEvent, type TlsIdentity } from "../../pki/index.js";
import { ControlClosedError, ControlPayloadError, ControlRemoteError, ControlTimeoutError, ControlUnreachableError } from "../errors.js";
import { ControlDecoder, DEFAULT_MAX_CONTROL_FRAME, encodeControlFrame, isRequest, type ControlFrame, type ControlRequest } from "./codec.js";

/** @default 9600 */
export const DEFAULT_CONTROL_PORT = 9600;
/** @default 2000 ms */
export const DEFAULT_CONTROL_TIMEOUT_MS = 2000;

export type ControlHandler = (payload: unknown, peer: PeerIdentity) => unknown;

export interface ControlLinkOptions {
  identity: TlsIdentity;
  logger: Logger;
  /** Listen address and port (0 = any free port). */
  host: string;
  port: number;
  /** Where a member's control endpoint is, from the current membership. */
  resolve(memberId: string): { host: string; port: number } | undefined;
  /** Passports a connecting peer must match. @default ["OU=node"] */
  accept?: Passport[];
  /** Source address of our calls: a node dials from its own address, which the peer checks against our certificate. */
  dialFrom?: string;
  /** @default DEFAULT_CONTROL_TIMEOUT_MS */
  timeoutMs?: number;
  /** @default DEFAULT_MAX_CONTROL_FRAME */
  maxFrame?: number;
}

export interface ControlStats {
  callsSent: number;
  callsFailed: number;
  requestsServed: number;
  refused: number;
  protocolErrors: number;
}

interface Pending {
  resolve(v: unknown): void;
  reject(e: Error): void;
  timer: NodeJS.Timeout;
}

/** One TLS connection carrying frames both ways. */
class Connection {
  readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private readonly out: (data: Buffer) => void;
  private readonly decoder: ControlDecoder;
  closed = false;

  constructor(
    readonly socket: tls.TLSSocket,
    readonly peer: PeerIdentity,
    private readonly maxFrame: number,
    private readonly onRequest: (conn: Connection, req: ControlRequest) => void,
    private readonly onProtocolError: (reason: string) => void,
  ) {
    this.decoder = new ControlDecoder(maxFrame);
    this.out = turnWriter(socket);
    socket.setNoDelay(true);
    socket.on("data", (chunk: Buffer) => {
      for (const r of this.decoder.push(chunk)) {
        if (!r.ok) {
          this.onProtocolError(r.error);
          socket.destroy();
          return;
        }
        this.onFrame(r.frame);
      }
    });
    socket.on("close", () => this.onClose());
    socket.on("error", () => undefined);
  }

  call(method: string, payload: unknown, timeoutMs: number): Promise<unknown> {
    if (this.closed) return Promise.reject(new ControlClosedError(`connection to ${this.peer.subject["CN"]} is closed`));
    const id = this.nextId++;
    const bytes = this.encode({ q: id, m: method, p: payload });
    if (typeof bytes === "string") return Promise.reject(new ControlPayloadError(`${method} to ${this.peer.subject["CN"]}: request ${bytes}`));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new ControlTimeoutError(`${method} to ${this.peer.subject["CN"]}: no answer within ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(id, { resolve, reject, timer });
      this.send(bytes);
    });
  }

  /**
   * Send `frame`; returns why it was not sent when it cannot go on the wire.
   * Such a frame is kept off the wire because the peer's decoder would close
   * the whole connection, failing every other call multiplexed on it.
   */
  write(frame: ControlFrame): string | undefined {
    const bytes = this.encode(frame);
    if (typeof bytes === "string") return bytes;
    this.send(bytes);
    return undefined;
  }

  /** Frames written in one turn of the event loop leave together ({@link turnWriter}): one TLS record, one system call. */
  private send(bytes: Buffer): void {
    if (this.closed) return;
    this.out(bytes);
  }

  /** The frame's bytes, or why not: not JSON-serializable, or over the frame limit (ours, taken as the peer's). */
  private encode(frame: ControlFrame): Buffer | string {
    let bytes: Buffer;
    try {
      bytes = encodeControlFrame(frame);
    } catch (err) {
      return `is not JSON-serializable (${describeError(err)})`;
    }
    return bytes.length - 4 > this.maxFrame ? `of ${bytes.length - 4} bytes exceeds the frame limit of ${this.maxFrame} bytes` : bytes;
  }

  private onFrame(frame: ControlFrame): void {
    if (isRequest(frame)) return this.onRequest(this, frame);
    const p = this.pending.get(frame.r);
    if (!p) return;
    this.pending.delete(frame.r);
    clearTimeout(p.timer);
    if (frame.ok) p.resolve(frame.v);
    else p.reject(new ControlRemoteError(`${this.peer.subject["CN"]} answered ${frame.code}: ${frame.msg}`));
  }

  private onClose(): void {
    this.closed = true;
    for (const p of this.pending.values()) {
      clearTimeout(p.timer);
      p.reject(new ControlClosedError(`connection to ${this.peer.subject["CN"]} closed before the answer`));
    }
    this.pending.clear();
  }
}

export class ControlLink {
  readonly stats: ControlStats = { callsSent: 0, callsFailed: 0, requestsServed: 0, refused: 0, protocolErrors: 0 };
  private readonly handlers = new Map<string, ControlHandler>();
  private readonly outbound = new Map<string, Promise<Connection>>();
  private readonly inbound = new Set<Connection>();
  private readonly log: Logger;
  private readonly link: MemberLink;
  private readonly nodes: MemberLink;
  private server: tls.Server | undefined;
  private stopped = false;
  private boundPort = 0;

  constructor(private readonly opts: ControlLinkOptions) {
    this.log = opts.logger;
    const onRefused = ({ reason, remote, peer, cut }: RefusalEvent) => {
      this.stats.refused++;
      this.log.warn({ remote, ...(peer ? { peer: formatSubject(peer.subject) } : {}), reason }, cut ? "control connection dropped" : "control connection refused");
    };
    const node = [parsePassport("OU=node")];
    // Inbound: the configured passports; nodes must connect from an address of their certificate.
    this.link = new MemberLink({ identity: opts.identity, passports: opts.accept ?? node, addressBound: node, onRefused });
    // Outbound: we only ever call nodes.
    this.nodes = new MemberLink({ identity: opts.identity, passports: node, onRefused });
  }

  /** Serve `method`: the handler's value (or promise) is the answer; a thrown ThorError's code goes back to the caller. */
  handle(method: string, handler: ControlHandler): void {
    this.handlers.set(method, handler);
  }

  get port(): number {
    return this.boundPort;
  }

  async start(): Promise<{ host: string; port: number }> {
    const server = this.link.createServer((s, peer) => this.onInbound(s, peer));
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(this.opts.port, this.opts.host, () => {
        server.off("error", reject);
        resolve();
      });
    });
    this.server = server;
    this.boundPort = (server.address() as net.AddressInfo).port;
    return { host: this.opts.host, port: this.boundPort };
  }

  /** Close every connection (pending calls fail with ControlClosedError) and the server; later calls fail too. */
  async stop(): Promise<void> {
    this.stopped = true;
    for (const c of this.inbound) c.socket.destroy();
    for (const p of this.outbound.values()) void p.then((c) => c.socket.destroy(), () => undefined);
    this.outbound.clear();
    this.link.close();
    this.nodes.close();
    const server = this.server;
    this.server = undefined;
    if (server) await new Promise<void>((r) => server.close(() => r()));
  }

  /** Call `method` on member `memberId`; rejects with a Control*Error. */
  async call(memberId: string, method: string, payload: unknown, timeoutMs = this.opts.timeoutMs ?? DEFAULT_CONTROL_TIMEOUT_MS): Promise<unknown> {
    this.stats.callsSent++;
    try {
      if (this.stopped) throw new ControlClosedError("control link is stopped");
      const conn = await this.connection(memberId, timeoutMs);
      return await conn.call(method, payload, timeoutMs);
    } catch (err) {
      this.stats.callsFailed++;
      throw err;
    }
  }

  private connection(memberId: string, timeoutMs: number): Promise<Connection> {
    const existing = this.outbound.get(memberId);
    if (existing) return existing;
    const p = this.dial(memberId, timeoutMs);
    this.outbound.set(memberId, p);
    p.then(
      (c) => c.socket.once("close", () => this.outbound.get(memberId) === p && this.outbound.delete(memberId)),
      () => this.outbound.get(memberId) === p && this.outbound.delete(memberId),
    );
    return p;
  }

  private dial(memberId: string, timeoutMs: number): Promise<Connection> {
    const where = this.opts.resolve(memberId);
    if (!where) return Promise.reject(new ControlUnreachableError(`member ${memberId} is not in the membership or has no control port`));
    return this.nodes.dial({ host: where.host, port: where.port, expect: memberId, ...(this.opts.dialFrom ? { localAddress: this.opts.dialFrom } : {}) }, timeoutMs).then(
      ({ socket, peer }) => new Connection(socket, peer, this.opts.maxFrame ?? DEFAULT_MAX_CONTROL_FRAME, (c, r) => this.serve(c, r), (reason) => this.protocolError(memberId, reason)),
      (err: unknown) => {
        throw new ControlUnreachableError(`control link to ${memberId} (${where.host}:${where.port}): ${describeError(err)}`, { cause: err });
      },
    );
  }

  private onInbound(socket: tls.TLSSocket, peer: PeerIdentity): void {
    const conn = new Connection(socket, peer, this.opts.maxFrame ?? DEFAULT_MAX_CONTROL_FRAME, (c, r) => this.serve(c, r), (reason) => this.protocolError(peer.subject["CN"] ?? "?", reason));
    this.inbound.add(conn);
    socket.once("close", () => this.inbound.delete(conn));
  }

  private protocolError(peer: string, reason: string): void {
    this.stats.protocolErrors++;
    this.log.warn({ peer, reason }, "control link protocol error, closing connection");
  }

  private serve(conn: Connection, req: ControlRequest): void {
    const handler = this.handlers.get(req.m);
    if (!handler) {
      conn.write({ r: req.q, ok: false, code: "unknown-method", msg: `no handler for ${req.m}` });
      return;
    }
    this.stats.requestsServed++;
    const fail = (err: unknown) => {
      if (!(err instanceof ThorError)) this.log.error({ method: req.m, err: describeError(err) }, "control handler failed");
      conn.write({ r: req.q, ok: false, code: err instanceof ThorError ? err.code.slice(0, 64) : "internal", msg: err instanceof Error ? err.message.slice(0, 1000) : String(err).slice(0, 1000) });
    };
    const answer = (value: unknown) => {
      const unsent = conn.write({ r: req.q, ok: true, v: value ?? null });
      if (unsent === undefined) return;
      this.log.error({ method: req.m, reason: unsent }, "control answer not sent");
      conn.write({ r: req.q, ok: false, code: "THOR_NODE_CONTROL_PAYLOAD", msg: `answer to ${req.m} ${unsent}`.slice(0, 1000) });
    };
    try {
      const v = handler(req.p, conn.peer);
      if (v instanceof Promise) v.then(answer, fail);
      else answer(v);
    } catch (err) {
      fail(err);
    }
  }
}
