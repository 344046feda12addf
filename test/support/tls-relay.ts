import net from "node:net";
import tls from "node:tls";

/**
 * A TLS relay for peers that speak only TCP (Debian's SIPp is built without
 * TLS): every connection accepted on one side is carried, byte for byte, to
 * a new connection on the other side.
 *   - `tlsClientRelay`: accepts TCP, connects with TLS (verifying the
 *     server's certificate against `ca`), e.g. SIPp UAC -> thor sip tls.
 *   - `tlsServerRelay`: accepts TLS (presenting `cert`/`key`), connects
 *     with TCP, e.g. thor sip -> TLS -> SIPp UAS.
 * Closing the relay destroys every connection it carries.
 */
export interface TlsRelay {
  /** Connections carried (for a TLS listener: handshakes completed). */
  readonly connections: number;
  /** TCP connections accepted, whether their TLS handshake succeeded or not. */
  readonly attempts: number;
  close(): Promise<void>;
}

type Listener = net.Server | tls.Server;

function relay(server: Listener, listen: { host: string; port: number }, dial: () => net.Socket, accepted: "connection" | "secureConnection"): Promise<TlsRelay> {
  const sockets = new Set<net.Socket>();
  let connections = 0;
  let attempts = 0;
  server.on("connection", () => attempts++);
  const track = (s: net.Socket) => {
    sockets.add(s);
    s.once("close", () => sockets.delete(s));
    s.on("error", () => s.destroy());
  };
  server.on(accepted, (inbound: net.Socket) => {
    connections++;
    const outbound = dial();
    track(inbound);
    track(outbound);
    inbound.pipe(outbound);
    outbound.pipe(inbound);
    inbound.once("close", () => outbound.destroy());
    outbound.once("close", () => inbound.destroy());
  });
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(listen.port, listen.host, () => {
      server.off("error", reject);
      resolve({
        get connections() {
          return connections;
        },
        get attempts() {
          return attempts;
        },
        close: () =>
          new Promise<void>((r) => {
            for (const s of sockets) s.destroy();
            server.close(() => r());
          }),
      });
    });
  });
}

export function tlsClientRelay(listen: { host: string; port: number }, target: { host: string; port: number; ca: string }): Promise<TlsRelay> {
  return relay(net.createServer(), listen, () => tls.connect({ host: target.host, port: target.port, ca: target.ca }), "connection");
}

export function tlsServerRelay(listen: { host: string; port: number; cert: string; key: string }, target: { host: string; port: number }): Promise<TlsRelay> {
  return relay(tls.createServer({ cert: listen.cert, key: listen.key }), listen, () => net.connect({ host: target.host, port: target.port }), "secureConnection");
}
