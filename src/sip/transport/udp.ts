/**
 * SIP over UDP (RFC 3261 18): one socket per listener, with large kernel
 * buffers; a datagram is one message (CRLF keepalives ignored); sending
 * to an address uses a socket of its address family. The sockets are the
 * sockets addon's batched ones (recvmmsg/sendmmsg, `batched-udp.ts`) when
 * it is built, else Node's dgram.
 */
import dgram from "node:dgram";
import dns from "node:dns";
import net from "node:net";
import util from "node:util";
import { describeError, type SocketsAddon } from "../../base/index.js";
import { parseMessage } from "../message/index.js";
import { BatchedUdpSocket, type DatagramErrorSink, type DatagramSender } from "./batched-udp.js";
import type { TransportContext } from "./context.js";
import { UdpFlow } from "./flows.js";
import type { Address, Flow, ListenSpec, SharedSocketOpener } from "./types.js";


/** @default 4 MiB (the kernel caps it at net.core.rmem_max / wmem_max) */
export const DEFAULT_UDP_BUFFER = 4 * 1024 * 1024;

export interface Listener {
  spec: ListenSpec;
  port: number;
  close(): Promise<void>;
}

export class UdpTransport {
  /** `v6`: the socket sends to IPv6 addresses (else to IPv4). */
  private readonly sockets: Array<{ socket: DatagramSender; local: Address; shared: boolean; v6: boolean }> = [];

  constructor(
    private readonly ctx: TransportContext,
    /** Receive and send buffer of each socket. @default DEFAULT_UDP_BUFFER */
    private readonly bufferBytes = DEFAULT_UDP_BUFFER,
    /** Opens the socket of a shared listener (SO_REUSEPORT) for dgram. */
    private readonly openShared?: SharedSocketOpener,
    /** The sockets addon: batched sockets instead of dgram. */
    private readonly batched?: SocketsAddon,
  ) {}

  get batchedIo(): boolean {
    return this.batched !== undefined;
  }

  listen(spec: ListenSpec): Promise<Listener> {
    return this.batched ? this.listenBatched(spec, this.batched) : this.listenDgram(spec);
  }

  private listenBatched(spec: ListenSpec, addon: SocketsAddon): Promise<Listener> {
    const ctx = this.ctx;
    const fd = addon.udpOpen(spec.host, spec.port, this.bufferBytes, spec.shared === true);
    if (fd < 0) return Promise.reject(Object.assign(new Error(`bind ${util.getSystemErrorName(fd)} ${spec.host}:${spec.port} (UDP)`), { code: util.getSystemErrorName(fd) }));
    let local: Address = { address: spec.host, port: spec.port };
    let troubleLogged = 0;
    const socket = new BatchedUdpSocket(addon, fd, {
      onDatagram: (data, remote) => {
        if (data.length <= 4 && data.every((b) => b === 13 || b === 10)) return;
        const started = ctx.costClock();
        const flow = new UdpFlow(socket, local, remote);
        if (ctx.admitted(flow)) {
          const result = parseMessage(data, ctx.parseOpts);
          // `data` is the socket's inbox: a body kept with the message gets its own copy.
          if (result.ok && result.message.body.length > 0) result.message.body = Buffer.from(result.message.body);
          ctx.deliver(result, flow);
        }
        ctx.measured(started, flow, data);
      },
      onTrouble: (what, err) => {
        // At most one line a second: a flood of drops must not become a flood of log lines.
        const now = Date.now();
        if (now - troubleLogged < 1000) return;
        troubleLogged = now;
        ctx.log.warn({ listener: `${spec.host}:${local.port}`, ...(err ? { err: describeError(err) } : {}) }, what);
      },
    });
    local = { address: spec.host, port: socket.localPort };
    this.sockets.push({ socket, local, shared: spec.shared === true, v6: net.isIPv6(spec.host) });
    return Promise.resolve({
      spec,
      port: local.port,
      close: async () => {
        socket.close();
        const i = this.sockets.findIndex((s) => s.socket === socket);
        if (i >= 0) this.sockets.splice(i, 1);
      },
    });
  }

  private listenDgram(spec: ListenSpec): Promise<Listener> {
    const ctx = this.ctx;
    return new Promise((resolve, reject) => {
      let fd: number | undefined;
      if (spec.shared) {
        if (!this.openShared) return reject(new Error(`shared UDP listener ${spec.host}:${spec.port}: no SO_REUSEPORT opener (native/reuseport not built)`));
        fd = this.openShared("udp", spec.host, spec.port, this.bufferBytes);
        if (fd < 0) return reject(new Error(`shared UDP listener ${spec.host}:${spec.port}: cannot open (errno ${-fd})`));
      }
      const socket = dgram.createSocket({ type: net.isIPv6(spec.host) ? "udp6" : "udp4", reuseAddr: false, recvBufferSize: this.bufferBytes, sendBufferSize: this.bufferBytes, lookup: literalLookup });
      socket.once("error", reject);
      const bound = () => {
        socket.off("error", reject);
        socket.on("error", (err) => ctx.log.warn({ err: describeError(err) }, "UDP socket error"));
        const local = { address: spec.host, port: socket.address().port };
        const sender = new DgramSender(socket);
        this.sockets.push({ socket: sender, local, shared: spec.shared === true, v6: net.isIPv6(spec.host) });
        socket.on("message", (data, rinfo) => {
          // CRLF keepalives over UDP carry no message.
          if (data.length <= 4 && data.every((b) => b === 13 || b === 10)) return;
          const started = ctx.costClock();
          const flow = new UdpFlow(sender, local, { address: rinfo.address, port: rinfo.port });
          if (ctx.admitted(flow)) ctx.deliver(parseMessage(data, ctx.parseOpts), flow);
          ctx.measured(started, flow, data);
        });
        resolve({ spec, port: local.port, close: () => new Promise((r) => socket.close(() => r())) });
      };
      if (fd !== undefined) socket.bind({ fd }, bound);
      else socket.bind(spec.port, spec.host, bound);
    });
  }

  /**
   * Send a datagram to `dest` from a socket of its address family: the
   * worker's own before a shared one (its Via names it, so the answers come
   * back to this worker), but a shared one first on a client's flow
   * (`clientFlow`: its NAT binding is towards the shared port; its answers,
   * on its own 4-tuple, reach this worker too). The flow, or undefined when
   * we have none.
   */
  sendTo(dest: Address, data: Buffer, onError: (flow: Flow, err: unknown) => void, clientFlow = false): Flow | undefined {
    // An IP literal with a colon is IPv6; anything else goes to an IPv4 socket, as before. No address regex per datagram.
    const v6 = dest.address.includes(":");
    const sock = this.sockets.find((s) => s.shared === clientFlow && s.v6 === v6) ?? this.sockets.find((s) => s.v6 === v6);
    if (!sock) return undefined;
    const flow = new UdpFlow(sock.socket, sock.local, { address: dest.address, port: dest.port });
    flow.onError = (err) => onError(flow, err);
    return this.ctx.sendOn(flow, data) ? flow : undefined;
  }
}

/** Node's dgram socket as a flow's sender: one send (and, for a watched flow, one callback) per datagram. */
class DgramSender implements DatagramSender {
  constructor(private readonly socket: dgram.Socket) {}
  send(data: Buffer, remote: Address, sink: DatagramErrorSink | undefined): void {
    if (sink === undefined) this.socket.send(data, remote.port, remote.address);
    else
      this.socket.send(data, remote.port, remote.address, (err) => {
        if (err) sink.onError(err);
      });
  }
}

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
