/**
 * A member's TLS identity (CA, certificate, key, CRL) and the checks every
 * member-to-member link makes: mutual TLS against the operator CA, the CRL
 * (also re-checked on live connections when it changes) and passports.
 *
 * CRL changes: `crl.pem` is polled; on change the identity reloads it and
 * tells its listeners. Servers swap in a fresh secure context
 * (`server.setSecureContext(identity.serverOptions())`) so new handshakes
 * use the new CRL, and a {@link ConnectionGuard} drops live connections of
 * newly revoked peers. Clients build options per connection, so they always
 * use the current CRL.
 */
import "reflect-metadata";
import { readFileSync, unwatchFile, watchFile, existsSync } from "node:fs";
import type tls from "node:tls";
import * as x509 from "@peculiar/x509";
import { PkiInvalidError } from "./errors.js";
import { formatSubject, matchAnyPassport, type Passport } from "./passport.js";
import { DEFAULT_CRL_POLL_MS, ROLE_URI_PREFIX } from "./options.js";

export interface TlsPaths {
  ca: string;
  cert: string;
  key: string;
  crl?: string;
}

export interface PeerIdentity {
  /** Subject attributes (CN, O, OU, ...). */
  subject: Record<string, string>;
  /** Roles the certificate allows (`*` = any). */
  roles: string[];
  /** Serial number, uppercase hex without leading zeros. */
  serial: string;
}

export type PeerVerdict = { ok: true; peer: PeerIdentity } | { ok: false; reason: string };

function normSerial(s: string): string {
  return s.replace(/^0+/, "").toUpperCase();
}

function readPem(path: string, what: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch (err) {
    throw new PkiInvalidError(`cannot read ${what} ${path}: ${(err as Error).message}`, { cause: err });
  }
}

export class TlsIdentity {
  private crlPem: string | undefined;
  private revoked = new Set<string>();
  private readonly listeners = new Set<() => void>();
  private watching = false;

  private constructor(
    private readonly paths: TlsPaths,
    private readonly caPem: string,
    private readonly certPem: string,
    private readonly keyPem: string,
    /** Our certificate's CN. */
    readonly name: string,
    readonly subject: Record<string, string>,
  ) {}

  static async load(paths: TlsPaths): Promise<TlsIdentity> {
    const caPem = readPem(paths.ca, "CA certificate");
    const certPem = readPem(paths.cert, "certificate");
    const keyPem = readPem(paths.key, "key");
    let cert: x509.X509Certificate;
    try {
      cert = new x509.X509Certificate(certPem);
    } catch (err) {
      throw new PkiInvalidError(`${paths.cert} is not a PEM certificate`, { cause: err });
    }
    const subject: Record<string, string> = {};
    for (const rdn of cert.subjectName.toJSON()) for (const [k, v] of Object.entries(rdn)) if (v[0] !== undefined) subject[k] = v[0];
    const id = new TlsIdentity(paths, caPem, certPem, keyPem, subject["CN"] ?? "", subject);
    id.reloadCrl();
    return id;
  }

  /**
   * Options for `tls.createServer`: client certificates requested and
   * verified against the CA and CRL. The handshake is not aborted by TLS
   * itself (`rejectUnauthorized: false`): the server must call
   * {@link authorizePeer} on every connection, which refuses unverified
   * peers with the precise reason (CERT_REVOKED, CERT_HAS_EXPIRED, unknown
   * CA, ...) for the log instead of an opaque "socket hang up".
   */
  serverOptions(): tls.TlsOptions {
    return { ca: this.caPem, cert: this.certPem, key: this.keyPem, ...(this.crlPem ? { crl: this.crlPem } : {}), requestCert: true, rejectUnauthorized: false, minVersion: "TLSv1.2" };
  }

  /** Options for `tls.connect`: the server's certificate verified against the CA; peers are authorized by passport, not host name. */
  clientOptions(): tls.ConnectionOptions {
    return { ca: this.caPem, cert: this.certPem, key: this.keyPem, ...(this.crlPem ? { crl: this.crlPem } : {}), rejectUnauthorized: true, minVersion: "TLSv1.2", checkServerIdentity: () => undefined };
  }

  /** Re-read the CRL; returns true when it changed. */
  reloadCrl(): boolean {
    const path = this.paths.crl;
    if (!path || !existsSync(path)) return false;
    const pem = readFileSync(path, "utf8");
    if (pem === this.crlPem) return false;
    let crl: x509.X509Crl;
    try {
      crl = new x509.X509Crl(pem);
    } catch {
      return false; // a half-written or broken CRL: keep the previous one
    }
    this.crlPem = pem;
    this.revoked = new Set(crl.entries.map((e) => normSerial(e.serialNumber)));
    return true;
  }

  isRevoked(serial: string): boolean {
    return this.revoked.has(normSerial(serial));
  }

  /** Poll `crl.pem` and notify listeners when it changes. */
  watchCrl(intervalMs = DEFAULT_CRL_POLL_MS): void {
    const path = this.paths.crl;
    if (!path || this.watching) return;
    this.watching = true;
    watchFile(path, { interval: intervalMs, persistent: false }, () => {
      if (this.reloadCrl()) for (const l of this.listeners) l();
    });
  }

  onCrlChange(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  close(): void {
    if (this.watching && this.paths.crl) unwatchFile(this.paths.crl);
    this.watching = false;
    this.listeners.clear();
  }
}

/** The identity a verified peer presented, or undefined when it presented none. */
export function peerIdentity(socket: tls.TLSSocket): PeerIdentity | undefined {
  const cert = socket.getPeerCertificate();
  if (!cert || !cert.subject || !cert.serialNumber) return undefined;
  const subject: Record<string, string> = {};
  for (const [k, v] of Object.entries(cert.subject as unknown as Record<string, string | string[]>)) {
    const first = Array.isArray(v) ? v[0] : v;
    if (first !== undefined) subject[k] = first;
  }
  const roles = (cert.subjectaltname ?? "")
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s.startsWith(`URI:${ROLE_URI_PREFIX}`))
    .map((s) => s.slice(4 + ROLE_URI_PREFIX.length));
  return { subject, roles, serial: normSerial(cert.serialNumber) };
}

/** Decide whether a TLS peer may use this link: CA, CRL (current), passports. */
export function authorizePeer(socket: tls.TLSSocket, identity: TlsIdentity, passports: readonly Passport[]): PeerVerdict {
  if (!socket.authorized) return { ok: false, reason: `not authorized by CA: ${String(socket.authorizationError ?? "no certificate")}` };
  const peer = peerIdentity(socket);
  if (!peer) return { ok: false, reason: "no peer certificate" };
  if (identity.isRevoked(peer.serial)) return { ok: false, reason: `certificate revoked (serial ${peer.serial}, ${formatSubject(peer.subject)})` };
  if (passports.length > 0 && !matchAnyPassport(passports, peer.subject)) {
    return { ok: false, reason: `subject ${formatSubject(peer.subject)} matches no passport (${passports.map((p) => formatSubject(p)).join(" | ")})` };
  }
  return { ok: true, peer };
}

/** True when a certificate's roles allow announcing `role`. */
export function roleAllowed(roles: readonly string[], role: string): boolean {
  return roles.includes("*") || roles.includes(role);
}

/** Drops live connections whose peer certificate becomes revoked. */
export class ConnectionGuard {
  private readonly tracked = new Map<tls.TLSSocket, PeerIdentity>();
  private readonly off: () => void;

  constructor(
    private readonly identity: TlsIdentity,
    private readonly onDrop: (reason: string, peer: PeerIdentity) => void,
  ) {
    this.off = identity.onCrlChange(() => this.recheck());
  }

  track(socket: tls.TLSSocket, peer: PeerIdentity): void {
    this.tracked.set(socket, peer);
    socket.once("close", () => this.tracked.delete(socket));
  }

  /** Re-check every live connection against the current CRL. */
  recheck(): number {
    let dropped = 0;
    for (const [socket, peer] of this.tracked) {
      if (this.identity.isRevoked(peer.serial)) {
        this.tracked.delete(socket);
        this.onDrop(`certificate revoked (serial ${peer.serial}, ${formatSubject(peer.subject)})`, peer);
        socket.destroy();
        dropped++;
      }
    }
    return dropped;
  }

  close(): void {
    this.off();
    this.tracked.clear();
  }
}
