/**
 * The one mutual-TLS link between members: every member-to-member
 * connection (event client → event server, the control link both ways, the
 * internal SIP listener both ways) is dialled and accepted here, so every
 * link authorises its peer the same way:
 *
 * - the certificate is verified against the operator CA and the CRL of the
 *   handshake, and is not revoked by the *current* CRL ({@link authorizePeer});
 * - its subject matches one of the link's passports (the OU check);
 * - a dialler that knows whom it dials checks CN = member id;
 * - the address dialled is one of the certificate's IP SANs (a certificate
 *   stolen from one member cannot serve at another address), and, for the
 *   peers named by `addressBound` (nodes, on the control link and the
 *   internal SIP listener), the source address of an accepted connection is
 *   one of its IP SANs too;
 * - live connections are re-checked on every CRL change and those of
 *   revoked peers are cut ({@link ConnectionGuard}); servers created here
 *   also swap in the new CRL for later handshakes.
 *
 * Every refusal goes to `onRefused` with the reason, for the log line and
 * the counters of the link that uses it.
 */
import { isIP } from "node:net";
import type net from "node:net";
import tls from "node:tls";
import { ConnectionGuard, authorizePeer, type PeerIdentity, type PeerVerdict, type TlsIdentity } from "./identity.js";
import { formatSubject, matchAnyPassport, type Passport } from "./passport.js";

export interface MemberLinkOptions {
  identity: TlsIdentity;
  /** Passports a peer must match, in both directions; empty = any certificate of the CA. */
  passports: readonly Passport[];
  /**
   * Accepted peers matching one of these must connect from an address in
   * their certificate's IP SANs. @default [] (the source address is not checked)
   */
  addressBound?: readonly Passport[];
  /** A peer was refused, or (`cut`) a live connection of a peer revoked since was cut. */
  onRefused?: (event: RefusalEvent) => void;
}

export interface RefusalEvent {
  reason: string;
  /** `address:port` of the peer ("-" for a cut connection). */
  remote: string;
  peer?: PeerIdentity;
  /** True when an admitted, live connection was cut (its certificate revoked since). */
  cut?: boolean;
}

export interface DialOptions {
  host: string;
  port: number;
  /** The member id we mean to reach: the certificate's CN must be this. */
  expect?: string;
  /** Source address (a node dials from its own address, so the peer can check it). */
  localAddress?: string;
  /** SNI for a host name (not sent for IP addresses). */
  servername?: string;
}

/** An IP address in one spelling: IPv4-mapped IPv6 as IPv4, IPv6 as 8 lowercase groups without leading zeros. */
export function canonicalIp(address: string): string {
  const a = address.replace(/^\[|\]$/g, "");
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(a);
  if (mapped) return mapped[1]!;
  if (isIP(a) !== 6) return a;
  const [head, tail] = a.toLowerCase().split("::") as [string, string | undefined];
  const h = head ? head.split(":") : [];
  const t = tail ? tail.split(":") : [];
  const groups = tail === undefined ? h : [...h, ...Array.from({ length: 8 - h.length - t.length }, () => "0"), ...t];
  return groups.map((g) => g.replace(/^0+(?=.)/, "")).join(":");
}

/** True when `address` is one of the certificate's IP SANs. */
export function ipAllowed(peer: PeerIdentity, address: string | undefined): boolean {
  if (!address) return false;
  const a = canonicalIp(address);
  return peer.ips.some((ip) => canonicalIp(ip) === a);
}

export class MemberLink {
  private readonly guard: ConnectionGuard;
  private readonly offs: Array<() => void> = [];

  constructor(private readonly opts: MemberLinkOptions) {
    this.guard = new ConnectionGuard(opts.identity, (reason, peer) => this.opts.onRefused?.({ reason, remote: "-", peer, cut: true }));
  }

  get identity(): TlsIdentity {
    return this.opts.identity;
  }

  /** Options for `tls.createServer` (see {@link TlsIdentity.serverOptions}); prefer {@link createServer}. */
  serverOptions(): tls.TlsOptions {
    return this.opts.identity.serverOptions();
  }

  /** Options for `tls.connect` (see {@link TlsIdentity.clientOptions}); prefer {@link dial}. */
  clientOptions(): tls.ConnectionOptions {
    return this.opts.identity.clientOptions();
  }

  /**
   * A TLS server whose peers are admitted by {@link accept} before
   * `onPeer` sees them; later handshakes use the current CRL.
   */
  createServer(onPeer: (socket: tls.TLSSocket, peer: PeerIdentity) => void): tls.Server {
    const server = tls.createServer(this.serverOptions());
    this.follow(server);
    server.on("secureConnection", (socket: tls.TLSSocket) => {
      const v = this.accept(socket);
      if (v.ok) onPeer(socket, v.peer);
    });
    server.on("tlsClientError", (err, socket: net.Socket) => {
      this.refused(`TLS handshake failed: ${err.message}`, `${socket.remoteAddress ?? "?"}:${socket.remotePort ?? "?"}`);
      socket.destroy();
    });
    return server;
  }

  /** Give `server` the new CRL for later handshakes whenever it changes (for servers not made by {@link createServer}). */
  follow(server: tls.Server): void {
    this.offs.push(this.opts.identity.onCrlChange(() => server.setSecureContext(this.serverOptions())));
  }

  /**
   * Admit an accepted connection (call it first thing on
   * `secureConnection`): CA, current CRL, passports, and the source
   * address for address-bound peers. A refused socket is destroyed; an
   * admitted one is watched for revocation.
   */
  accept(socket: tls.TLSSocket): PeerVerdict {
    const remote = `${socket.remoteAddress ?? "?"}:${socket.remotePort ?? "?"}`;
    let v = authorizePeer(socket, this.opts.identity, this.opts.passports);
    if (v.ok && this.opts.addressBound?.length && matchAnyPassport(this.opts.addressBound, v.peer.subject) && !ipAllowed(v.peer, socket.remoteAddress)) {
      v = { ok: false, reason: `${formatSubject(v.peer.subject)} connects from ${socket.remoteAddress ?? "?"}, which is not in its certificate (IP ${v.peer.ips.join(", ") || "none"})` };
    }
    return this.settle(socket, v, remote);
  }

  /**
   * Check the server we dialled (call it on `secureConnect`): CA and
   * current CRL, passports, CN = `expect` when given, and the address we
   * reached among its IP SANs. A refused socket is destroyed; an admitted
   * one is watched for revocation.
   */
  verifyDialled(socket: tls.TLSSocket, dialled: { host: string; expect?: string }): PeerVerdict {
    const remote = `${dialled.host}:${socket.remotePort ?? "?"}`;
    let v = authorizePeer(socket, this.opts.identity, this.opts.passports);
    if (v.ok && dialled.expect !== undefined && v.peer.subject["CN"] !== dialled.expect) {
      v = { ok: false, reason: `dialled ${dialled.expect}, but the server is ${formatSubject(v.peer.subject)}` };
    }
    const reached = isIP(dialled.host) ? dialled.host : socket.remoteAddress;
    if (v.ok && !ipAllowed(v.peer, reached)) {
      v = { ok: false, reason: `${formatSubject(v.peer.subject)} answers at ${reached ?? "?"}, which is not in its certificate (IP ${v.peer.ips.join(", ") || "none"})` };
    }
    return this.settle(socket, v, remote);
  }

  /** Open a connection (`tls.connect`); check it with {@link verifyDialled} on `secureConnect`. */
  connect(d: DialOptions): tls.TLSSocket {
    return tls.connect({
      host: d.host,
      port: d.port,
      ...(d.localAddress ? { localAddress: d.localAddress } : {}),
      ...(isIP(d.host) ? {} : { servername: d.servername ?? d.host }),
      ...this.clientOptions(),
    });
  }

  /** Dial and verify; resolves with the admitted socket and peer, rejects with the reason (the socket destroyed). */
  dial(d: DialOptions, timeoutMs: number): Promise<{ socket: tls.TLSSocket; peer: PeerIdentity }> {
    return new Promise((resolve, reject) => {
      const socket = this.connect(d);
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new Error(`no TLS session within ${timeoutMs} ms`));
      }, timeoutMs);
      socket.once("secureConnect", () => {
        clearTimeout(timer);
        const v = this.verifyDialled(socket, { host: d.host, ...(d.expect !== undefined ? { expect: d.expect } : {}) });
        if (v.ok) resolve({ socket, peer: v.peer });
        else reject(new Error(v.reason));
      });
      socket.once("error", (err) => {
        clearTimeout(timer);
        reject(err);
      });
    });
  }

  /** Live connections being watched. */
  get watched(): number {
    return this.guard.size;
  }

  /** Re-check every live connection against the current CRL now; returns how many were cut. */
  recheck(): number {
    return this.guard.recheck();
  }

  close(): void {
    for (const off of this.offs.splice(0)) off();
    this.guard.close();
  }

  private settle(socket: tls.TLSSocket, v: PeerVerdict, remote: string): PeerVerdict {
    if (!v.ok) {
      this.refused(v.reason, remote);
      socket.destroy();
      return v;
    }
    this.guard.track(socket, v.peer);
    return v;
  }

  private refused(reason: string, remote: string): void {
    this.opts.onRefused?.({ reason, remote });
  }
}
