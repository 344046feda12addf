/**
 * The public lookup interface of every node (plain TCP, port 9500): answers
 * pipelined `lookup` / `is_online` requests in order from the node's current
 * role map (protocol in `lookup-codec.ts`). Garbage gets an error line; an
 * over-long line gets an error and the connection is closed; idle
 * connections are closed; a client that does not read its answers is not
 * read from either (back-pressure) instead of growing the server's memory.
 * Nothing a client sends can take the server down for anyone else.
 */
import net from "node:net";
import { describeError, type Logger } from "../base/index.js";
import { formatAnswer, LookupLineDecoder } from "./lookup-codec.js";
import type { RoleMap } from "./role-map.js";
import { lookupClosedChannel } from "./diagnostics.js";
import { DEFAULT_LOOKUP_HIGH_WATER, DEFAULT_LOOKUP_IDLE_MS, DEFAULT_LOOKUP_MAX_CONNECTIONS, DEFAULT_LOOKUP_PORT, DEFAULT_MAX_LINE } from "./options.js";

export interface LookupServerOptions {
  /** @default "0.0.0.0" */
  host?: string;
  /** 0 picks a free port. @default DEFAULT_LOOKUP_PORT (9500) */
  port?: number;
  logger: Logger;
  /** The current role map; undefined until the first snapshot. Called once per received chunk. */
  resolve: () => RoleMap | undefined;
  /** @default DEFAULT_MAX_LINE (512 bytes) */
  maxLine?: number;
  /** @default DEFAULT_LOOKUP_IDLE_MS (60 s) */
  idleMs?: number;
  /** @default DEFAULT_LOOKUP_MAX_CONNECTIONS (1024) */
  maxConnections?: number;
  /** Unsent answer bytes per connection above which that connection is not read. @default DEFAULT_LOOKUP_HIGH_WATER (64 KiB) */
  highWater?: number;
}

export class LookupServer {
  private readonly server: net.Server;
  private readonly sockets = new Set<net.Socket>();
  private answeredCount = 0;

  constructor(private readonly opts: LookupServerOptions) {
    this.server = net.createServer({ noDelay: true, highWaterMark: opts.highWater ?? DEFAULT_LOOKUP_HIGH_WATER }, (socket) => this.onConnection(socket));
    this.server.maxConnections = opts.maxConnections ?? DEFAULT_LOOKUP_MAX_CONNECTIONS;
    this.server.on("drop", (info?: net.DropArgument) => {
      const remote = info?.remoteAddress ?? "?";
      opts.logger.warn({ remote, limit: this.server.maxConnections }, "lookup connection refused: too many connections");
      lookupClosedChannel.publish({ remote, reason: "too-many-connections" });
    });
    this.server.on("error", (err) => opts.logger.error({ err: describeError(err) }, "lookup server error"));
  }

  /** Requests answered since start. */
  get answered(): number {
    return this.answeredCount;
  }

  /** Open connections. */
  get connections(): number {
    return this.sockets.size;
  }

  async start(): Promise<{ address: string; port: number }> {
    await new Promise<void>((resolve, reject) => {
      const onError = (err: Error) => reject(err);
      this.server.once("error", onError);
      this.server.listen(this.opts.port ?? DEFAULT_LOOKUP_PORT, this.opts.host ?? "0.0.0.0", () => {
        this.server.off("error", onError);
        resolve();
      });
    });
    const addr = this.server.address() as net.AddressInfo;
    this.opts.logger.info({ address: addr.address, port: addr.port }, "lookup interface listening");
    return { address: addr.address, port: addr.port };
  }

  /** Stop listening and drop every connection. Safe to call twice or before start. */
  async stop(): Promise<void> {
    const closed = this.server.listening ? new Promise<void>((resolve) => this.server.close(() => resolve())) : Promise.resolve();
    for (const s of this.sockets) s.destroy();
    await closed;
  }

  private onConnection(socket: net.Socket): void {
    this.sockets.add(socket);
    const remote = `${socket.remoteAddress ?? "?"}:${socket.remotePort ?? 0}`;
    const decoder = new LookupLineDecoder(this.opts.maxLine ?? DEFAULT_MAX_LINE);
    socket.setTimeout(this.opts.idleMs ?? DEFAULT_LOOKUP_IDLE_MS, () => {
      this.opts.logger.debug({ remote }, "lookup connection idle, closing");
      lookupClosedChannel.publish({ remote, reason: "idle" });
      socket.destroy();
    });
    socket.on("data", (chunk: Buffer) => {
      const lines = decoder.push(chunk);
      if (lines.length === 0) return;
      const map = this.opts.resolve();
      let out = "";
      for (const line of lines) out += `${formatAnswer(line, map)}\r\n`;
      this.answeredCount += lines.length;
      if (decoder.mustClose) {
        this.opts.logger.warn({ remote }, "lookup line too long, closing connection");
        lookupClosedChannel.publish({ remote, reason: "line-too-long" });
        socket.end(out);
        return;
      }
      if (!socket.write(out) && !socket.isPaused()) {
        // The client is not reading its answers: stop reading its requests until it does.
        socket.pause();
        socket.once("drain", () => socket.resume());
      }
    });
    socket.on("error", (err) => this.opts.logger.debug({ remote, err: describeError(err) }, "lookup connection error"));
    socket.on("close", () => this.sockets.delete(socket));
  }
}
