/**
 * SIP over WebSocket (RFC 7118): ws and wss listeners (subprotocol `sip`;
 * a plain HTTP request gets 426), accepted and dialled connections, one
 * message per WebSocket message. The HTTP upgrade is the header of a
 * WebSocket connection: it gets the same deadline.
 */
import http from "node:http";
import https from "node:https";
import net from "node:net";
import { WebSocket, WebSocketServer } from "ws";
import { describeError } from "../../base/index.js";
import { parseMessage } from "../message/index.js";
import type { TransportContext } from "./context.js";
import { connectionId, normalizeAddress, reuseKey, servernameOf, SocketFlow } from "./flows.js";
import type { Listener } from "./udp.js";
import type { Address, Flow, ListenSpec, TransportName } from "./types.js";

export class WebSocketTransport {
  constructor(private readonly ctx: TransportContext) {}

  listen(spec: ListenSpec): Promise<Listener> {
    const { ctx } = this;
    const secure = spec.transport === "wss";
    if (secure && !ctx.tls) throw new Error("a wss listener needs a certificate and key");
    const server = secure ? https.createServer({ cert: ctx.tls!.cert, key: ctx.tls!.key }) : http.createServer();
    server.on("request", (_req, res) => {
      res.writeHead(426, { "content-type": "text/plain" }).end("SIP over WebSocket (RFC 7118): upgrade with subprotocol sip\n");
    });
    server.on("connection", (s: net.Socket) => ctx.gate(s));
    server.headersTimeout = ctx.limits.headerTimeoutMs;
    server.requestTimeout = ctx.limits.headerTimeoutMs;
    const wss = new WebSocketServer({ server, handleProtocols: (protocols) => (protocols.has("sip") ? "sip" : false), maxPayload: ctx.maxMessage ?? 65_535 });
    wss.on("connection", (ws, req) => this.accept(spec.transport, ws, req.socket, { address: spec.host, port: (server.address() as net.AddressInfo).port }));
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

  /**
   * An outgoing WebSocket connection (RFC 7118), subprotocol `sip`, to
   * `ws(s)://address:port/`; for wss the certificate must name `servername`
   * (else the address). Messages sent before the handshake completes wait
   * for it; the connection is reused like a TCP one.
   */
  connect(transport: "ws" | "wss", dest: Address & { servername?: string }): Flow {
    const { ctx } = this;
    const id = connectionId(transport);
    const host = net.isIPv6(dest.address) ? `[${dest.address}]` : dest.address;
    const tlsOpts = ctx.tls;
    const ws = new WebSocket(`${transport}://${host}:${dest.port}/`, "sip", {
      maxPayload: ctx.maxMessage ?? 65_535,
      handshakeTimeout: 10_000,
      ...(transport === "wss"
        ? {
            ...(tlsOpts ? { cert: tlsOpts.cert, key: tlsOpts.key } : {}),
            ...(tlsOpts?.ca ? { ca: tlsOpts.ca } : {}),
            rejectUnauthorized: tlsOpts?.rejectUnauthorized ?? true,
            ...servernameOf(dest, (a) => net.isIP(a) !== 0),
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
    const handle = { destroy: () => ws.terminate() };
    ctx.flows.add(flow, key, handle);
    ctx.stats.connections++;
    ws.on("open", () => {
      for (const d of queue.splice(0)) ws.send(d.toString("utf8"));
    });
    ws.on("message", (data: Buffer) => this.receive(data, flow));
    ws.on("error", (err) => ctx.log.debug({ flow: id, err: describeError(err) }, "WebSocket connection error"));
    ws.on("close", () => {
      closed = true;
      queue.length = 0;
      ctx.flows.remove(id, [key], handle);
      flow.notifyClosed();
    });
    return flow;
  }

  private accept(transport: TransportName, ws: WebSocket, socket: net.Socket, local: Address): void {
    const { ctx } = this;
    const id = connectionId(transport);
    const remote = { address: normalizeAddress(socket.remoteAddress), port: socket.remotePort ?? 0 };
    const flow = new SocketFlow(id, transport, local, remote, (d) => {
      ws.send(d.toString("utf8"));
      return true;
    }, () => ws.readyState !== ws.OPEN);
    const handle = { destroy: () => ws.terminate() };
    ctx.flows.add(flow, undefined, handle);
    ctx.stats.connections++;
    socket.setTimeout(ctx.limits.idleMs, () => {
      ctx.stats.connectionsRefused++;
      ctx.log.debug({ flow: id }, "idle WebSocket connection closed");
      ws.terminate();
    });
    ws.on("message", (data: Buffer) => this.receive(data, flow));
    ws.on("close", () => {
      ctx.flows.remove(id, [], handle);
      // Who waits on this connection learns it closed (transactions; the registrar: RFC 5626 flow failure).
      flow.notifyClosed();
    });
    ws.on("error", () => undefined);
  }

  private receive(data: Buffer, flow: Flow): void {
    const { ctx } = this;
    if (data.length <= 4 && data.every((b) => b === 13 || b === 10)) return;
    const started = ctx.costClock();
    if (ctx.admitted(flow)) ctx.deliver(parseMessage(Buffer.isBuffer(data) ? data : Buffer.from(data), ctx.parseOpts), flow);
    ctx.measured(started, flow, data);
  }
}
