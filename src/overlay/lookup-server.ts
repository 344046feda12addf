/**
 * The public lookup interface of every node (plain TCP, port 9500): answers
 * pipelined `lookup` / `is_online` requests in order from the node's current
 * role map. Garbage gets an error line; an over-long line gets an error and
 * the connection is closed; the server keeps serving everyone else.
 */
import net from "node:net";
import { describeError, type Logger } from "../base/index.js";
import { formatError, LookupLineDecoder, type DecodedLine } from "./lookup-codec.js";
import type { RoleMap } from "./role-map.js";
import { DEFAULT_LOOKUP_IDLE_MS, DEFAULT_LOOKUP_MAX_CONNECTIONS, DEFAULT_LOOKUP_PORT, DEFAULT_MAX_LINE } from "./options.js";

export interface LookupServerOptions {
  host?: string;
  port?: number;
  logger: Logger;
  /** The current role map; undefined until the first snapshot. */
  resolve: () => RoleMap | undefined;
  maxLine?: number;
  idleMs?: number;
  maxConnections?: number;
}

/** The answer line (without CRLF) to one decoded request. */
export function answer(line: DecodedLine, map: RoleMap | undefined): string {
  if (!line.ok) return formatError(line.reason);
  if (!map) return formatError("no membership yet");
  const req = line.request;
  if (req.kind === "lookup") return map.lookup(req.role, req.key)?.ip ?? "None";
  return map.isOnline(req.ip, req.role) ? "Yes" : "No";
}

export class LookupServer {
  private readonly server: net.Server;
  private readonly sockets = new Set<net.Socket>();
  /** Requests answered since start. */
  answered = 0;

  constructor(private readonly opts: LookupServerOptions) {
    this.server = net.createServer((socket) => this.onConnection(socket));
    this.server.maxConnections = opts.maxConnections ?? DEFAULT_LOOKUP_MAX_CONNECTIONS;
    this.server.on("error", (err) => opts.logger.error({ err: describeError(err) }, "lookup server error"));
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
    return { address: addr.address, port: addr.port };
  }

  async stop(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    for (const s of this.sockets) s.destroy();
    await closed;
  }

  private onConnection(socket: net.Socket): void {
    this.sockets.add(socket);
    const decoder = new LookupLineDecoder(this.opts.maxLine ?? DEFAULT_MAX_LINE);
    socket.setNoDelay(true);
    socket.setTimeout(this.opts.idleMs ?? DEFAULT_LOOKUP_IDLE_MS, () => socket.destroy());
    socket.on("data", (chunk: Buffer) => {
      const lines = decoder.push(chunk);
      if (lines.length === 0) return;
      const map = this.opts.resolve();
      let out = "";
      for (const line of lines) out += `${answer(line, map)}\r\n`;
      this.answered += lines.length;
      socket.write(out);
      if (decoder.closed) {
        this.opts.logger.warn({ remote: socket.remoteAddress }, "lookup line too long, closing connection");
        socket.end();
      }
    });
    socket.on("error", () => undefined);
    socket.on("close", () => this.sockets.delete(socket));
  }
}
