/**
 * A member's TLS identity (CA, certificate, key, CRL) and the checks every
 * member-to-member link makes: mutual TLS against the operator CA, the CRL
 * (also re-checked on live connections when it changes) and passports.
 *
 * Who enforces what:
 * - Clients (`clientOptions()`, `rejectUnauthorized: true`): TLS itself
 *   refuses a server whose certificate is not from the CA, expired or
 *   revoked by the CRL loaded at connect time.
 * - Servers (`serverOptions()`, `requestCert: true`,
 *   `rejectUnauthorized: false`): TLS verifies the client certificate
 *   against CA and CRL but does not abort the handshake, because Node then
 *   drops the socket with an opaque "socket hang up" and the reason
 *   (CERT_REVOKED, CERT_HAS_EXPIRED, unknown CA) is lost. Instead every
 *   server MUST call {@link authorizePeer} first thing in its
 *   `secureConnection` handler and destroy the socket unless `ok`; the
 *   verdict carries the precise reason for the log line. `authorizePeer` is
 *   therefore the one place that admits a peer: it checks the TLS verdict,
 *   the *current* CRL (which may be newer than the handshake's) and the
 *   passports.
 *
 * CRL changes: `crl.pem` is polled ({@link TlsIdentity.watchCrl}); on a
 * change the identity reloads it (only if signed by our CA) and tells its
 * listeners. Then:
 * - servers swap in a fresh secure context for new handshakes with
 *   `server.setSecureContext(identity.serverOptions())` in an
 *   `onCrlChange` listener (not an SNICallback: clients connecting to an IP
 *   address send no SNI, so the callback would not run for them). Even a
 *   server that forgets this stays correct, because `authorizePeer` checks
 *   the current CRL.
 * - a {@link ConnectionGuard} drops live connections of newly revoked peers;
 * - clients build options per connection (`clientOptions()` or the cached
 *   `secureContext()`), so they always use the current CRL.
 */
import "reflect-metadata";
import { existsSync, readFileSync, unwatchFile, watchFile } from "node:fs";
import tls from "node:tls";
import * as x509 from "@peculiar/x509";
import { PkiInvalidError } from "./errors.js";
import { formatSubject, matchAnyPassport, type Passport } from "./passport.js";
import { DEFAULT_CRL_POLL_MS, ROLE_URI_PREFIX } from "./options.js";
import { crlChannel } from "./diagnostics.js";

export interface TlsPaths {
  /** The operator CA certificate (PEM). */
  ca: string;
  /** Our certificate (PEM). */
  cert: string;
  /** Our private key (PEM PKCS#8). */
  key: string;
  /** The CRL (PEM). A missing file means "nothing revoked yet"; it is picked up when it appears. */
  crl?: string;
}

export interface PeerIdentity {
  /** Subject attributes (CN, O, OU, ...), first value of each. */
  subject: Record<string, string>;
  /** Roles the certificate allows (`*` = any; also when it names none). */
  roles: string[];
  /** Serial number, uppercase hex without leading zeros. */
  serial: string;
  /** The IP addresses of the SubjectAltName (where the member may be). */
  ips: string[];
}

export type PeerVerdict = { ok: true; peer: PeerIdentity } | { ok: false; reason: string };

function normSerial(s: string): string {
  return s.replace(/[^0-9a-fA-F]/g, "").replace(/^0+/, "").toUpperCase();
}

function readPem(path: string, what: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch (err) {
    throw new PkiInvalidError(`cannot read ${what} ${path}: ${(err as Error).message}`, { cause: err });
  }
}

function parseCert(pem: string, path: string): x509.X509Certificate {
  try {
    return new x509.X509Certificate(pem);
  } catch (err) {
    throw new PkiInvalidError(`${path} is not a PEM certificate`, { cause: err });
  }
}

interface LoadedCrl {
  pem: string;
  revoked: Set<string>;
  nextUpdate: Date | undefined;
}

export class TlsIdentity {
  private crl: LoadedCrl | undefined;
  private context: tls.SecureContext | undefined;
  private readonly listeners = new Set<() => void>();
  private watching = false;
  private reloading: Promise<boolean> | undefined;
  private crlError: string | undefined;

  private constructor(
    private readonly paths: TlsPaths,
    private readonly caPem: string,
    private readonly caCert: x509.X509Certificate,
    private readonly certPem: string,
    private readonly keyPem: string,
    /** Our certificate's CN (the member name). */
    readonly name: string,
    /** Our certificate's subject attributes. */
    readonly subject: Record<string, string>,
  ) {}

  /**
   * Read CA, certificate, key and (if present) CRL. Throws PkiInvalidError
   * when a file is unreadable, not PEM, or the CRL is not signed by the CA.
   */
  static async load(paths: TlsPaths): Promise<TlsIdentity> {
    const caPem = readPem(paths.ca, "CA certificate");
    const caCert = parseCert(caPem, paths.ca);
    const certPem = readPem(paths.cert, "certificate");
    const cert = parseCert(certPem, paths.cert);
    const keyPem = readPem(paths.key, "key");
    const subject: Record<string, string> = {};
    for (const rdn of cert.subjectName.toJSON()) for (const [k, v] of Object.entries(rdn)) if (v[0] !== undefined && !(k in subject)) subject[k] = v[0];
    const id = new TlsIdentity(paths, caPem, caCert, certPem, keyPem, subject["CN"] ?? "", subject);
    if (paths.crl && existsSync(paths.crl)) {
      const pem = readPem(paths.crl, "CRL");
      const loaded = await id.parseCrl(pem);
      if (typeof loaded === "string") throw new PkiInvalidError(`${paths.crl}: ${loaded}`);
      id.crl = loaded;
    }
    try {
      id.secureContext(); // fail now, not at the first connection, if key and certificate do not fit
    } catch (err) {
      throw new PkiInvalidError(`${paths.cert} / ${paths.key}: ${(err as Error).message}`, { cause: err });
    }
    return id;
  }

  /**
   * Options for `tls.createServer`: client certificates requested and
   * verified against the CA and the CRL, but the handshake is not aborted
   * by TLS (`rejectUnauthorized: false`) so the reason can be logged: call
   * {@link authorizePeer} on every `secureConnection` (see the file comment).
   * After a CRL change, give the fresh options to `server.setSecureContext`.
   */
  serverOptions(): tls.TlsOptions {
    return { ...this.contextOptions(), requestCert: true, rejectUnauthorized: false };
  }

  /**
   * Options for `tls.connect`: our certificate for the server, the server's
   * certificate verified against CA and current CRL (`rejectUnauthorized`);
   * no host name check, since peers are authorized by passport.
   */
  clientOptions(): tls.ConnectionOptions {
    return { ...this.contextOptions(), rejectUnauthorized: true, checkServerIdentity: () => undefined };
  }

  /**
   * A secure context with CA, certificate, key and the current CRL, cached
   * and rebuilt after each CRL change (for `tls.connect({ secureContext })`,
   * or an SNICallback). Throws if key and certificate do not fit.
   */
  secureContext(): tls.SecureContext {
    this.context ??= tls.createSecureContext(this.contextOptions());
    return this.context;
  }

  private contextOptions(): tls.SecureContextOptions {
    return { ca: this.caPem, cert: this.certPem, key: this.keyPem, ...(this.crl ? { crl: this.crl.pem } : {}), minVersion: "TLSv1.2" };
  }

  /** The CRL's nextUpdate: past it, TLS refuses every peer with CRL_HAS_EXPIRED (run `thor ca crl`). */
  get crlNextUpdate(): Date | undefined {
    return this.crl?.nextUpdate;
  }

  /** Why the last CRL reload was rejected (the previous CRL stays in force), or undefined. */
  get lastCrlError(): string | undefined {
    return this.crlError;
  }

  /** Parse and check a CRL: issued and signed by our CA. Returns the reason on failure. */
  private async parseCrl(pem: string): Promise<LoadedCrl | string> {
    let crl: x509.X509Crl;
    try {
      crl = new x509.X509Crl(pem);
    } catch {
      return "not a PEM CRL";
    }
    let signed = false;
    try {
      signed = crl.issuerName.toString() === this.caCert.subjectName.toString() && (await crl.verify({ publicKey: this.caCert }));
    } catch {
      signed = false;
    }
    if (!signed) return "CRL not issued or not signed by the CA";
    return { pem, revoked: new Set(crl.entries.map((e) => normSerial(e.serialNumber))), nextUpdate: crl.nextUpdate };
  }

  /**
   * Re-read the CRL file. When it changed and is signed by our CA, adopt
   * it, rebuild the secure context and notify `onCrlChange` listeners;
   * resolves true then. A missing, broken or foreign file keeps the current
   * CRL (reason in {@link lastCrlError}). Concurrent calls share one read.
   */
  reloadCrl(): Promise<boolean> {
    this.reloading ??= this.doReload().finally(() => {
      this.reloading = undefined;
    });
    return this.reloading;
  }

  private async doReload(): Promise<boolean> {
    const path = this.paths.crl;
    if (!path || !existsSync(path)) return false;
    let pem: string;
    try {
      pem = readFileSync(path, "utf8");
    } catch (err) {
      this.crlError = `cannot read ${path}: ${(err as Error).message}`;
      crlChannel.publish({ path, adopted: false, error: this.crlError });
      return false;
    }
    if (pem === this.crl?.pem) return false;
    const loaded = await this.parseCrl(pem);
    if (typeof loaded === "string") {
      this.crlError = `${path}: ${loaded}`;
      crlChannel.publish({ path, adopted: false, error: loaded });
      return false;
    }
    this.crlError = undefined;
    this.crl = loaded;
    this.context = undefined;
    crlChannel.publish({ path, adopted: true, revoked: loaded.revoked.size });
    for (const l of [...this.listeners]) l();
    return true;
  }

  /** True when the current CRL lists this serial (hex, any case, colons and leading zeros ignored). */
  isRevoked(serialHex: string): boolean {
    return this.crl?.revoked.has(normSerial(serialHex)) ?? false;
  }

  /** Poll `crl.pem` (stat every `intervalMs`) and reload it when it changes. Does not keep the process alive. */
  watchCrl(intervalMs = DEFAULT_CRL_POLL_MS): void {
    const path = this.paths.crl;
    if (!path || this.watching) return;
    this.watching = true;
    watchFile(path, { interval: intervalMs, persistent: false }, this.onCrlFile);
  }

  private readonly onCrlFile = (): void => {
    void this.reloadCrl();
  };

  /** Call `listener` after each adopted CRL change; returns the unsubscribe function. */
  onCrlChange(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
    };
  }

  /** Stop watching the CRL and forget the listeners. */
  close(): void {
    if (this.watching && this.paths.crl) unwatchFile(this.paths.crl, this.onCrlFile);
    this.watching = false;
    this.listeners.clear();
  }
}

/** The identity a peer proved with a CA-verified certificate, or undefined when it has none (or TLS did not verify it). */
export function peerIdentity(socket: tls.TLSSocket): PeerIdentity | undefined {
  if (!socket.authorized) return undefined;
  const cert = socket.getPeerCertificate();
  if (!cert || !cert.subject || !cert.serialNumber) return undefined;
  const subject: Record<string, string> = {};
  for (const [k, v] of Object.entries(cert.subject as unknown as Record<string, string | string[] | undefined>)) {
    const first = Array.isArray(v) ? v[0] : v;
    if (first !== undefined) subject[k] = first;
  }
  // Node renders the SAN as `DNS:a, IP Address:b, URI:c`; role URIs never contain ", " (CERT_ROLE).
  const san = (cert.subjectaltname ?? "").split(", ").map((s) => s.trim());
  const roles = san.filter((s) => s.startsWith(`URI:${ROLE_URI_PREFIX}`)).map((s) => s.slice(4 + ROLE_URI_PREFIX.length));
  const ips = san.filter((s) => s.startsWith("IP Address:")).map((s) => s.slice("IP Address:".length));
  return { subject, roles: roles.length > 0 ? roles : ["*"], serial: normSerial(cert.serialNumber), ips };
}

/**
 * Decide whether a TLS peer may use this link: verified by the CA (and the
 * handshake's CRL), not revoked by the current CRL, and matching one of the
 * passports. An empty passport list admits any certificate of the CA.
 */
export function authorizePeer(socket: tls.TLSSocket, identity: TlsIdentity, passports: readonly Passport[]): PeerVerdict {
  if (!socket.authorized) {
    const presented = Object.keys(socket.getPeerCertificate() ?? {}).length > 0;
    // without a certificate OpenSSL reports UNABLE_TO_GET_ISSUER_CERT, which would mislead the reader of the log
    return { ok: false, reason: `not authorized by CA: ${presented ? String(socket.authorizationError ?? "unverified certificate") : "no certificate presented"}` };
  }
  const peer = peerIdentity(socket);
  if (!peer) return { ok: false, reason: "no peer certificate" };
  if (identity.isRevoked(peer.serial)) return { ok: false, reason: `certificate revoked (serial ${peer.serial}, ${formatSubject(peer.subject)})` };
  if (passports.length > 0 && !matchAnyPassport(passports, peer.subject)) {
    return { ok: false, reason: `subject ${formatSubject(peer.subject)} matches no passport (${passports.map((p) => formatSubject(p)).join(" | ")})` };
  }
  return { ok: true, peer };
}

/** True when a certificate's roles allow announcing `role`. */
export function roleAllowed(peerRoles: readonly string[], role: string): boolean {
  return peerRoles.includes("*") || peerRoles.includes(role);
}

/**
 * Drops live connections whose peer certificate becomes revoked: tracks
 * authorized sockets, and on every CRL change of the identity re-checks
 * them, destroying the revoked ones after calling `onRefused` (for the log
 * line). Sockets are forgotten when they close.
 */
export class ConnectionGuard {
  private readonly tracked = new Map<tls.TLSSocket, PeerIdentity>();
  private readonly off: () => void;

  constructor(
    private readonly identity: TlsIdentity,
    private readonly onRefused: (reason: string, peer: PeerIdentity) => void,
  ) {
    this.off = identity.onCrlChange(() => this.recheck());
  }

  track(socket: tls.TLSSocket, peer: PeerIdentity): void {
    if (socket.destroyed) return;
    this.tracked.set(socket, peer);
    socket.once("close", () => this.tracked.delete(socket));
  }

  /** Number of live connections being watched. */
  get size(): number {
    return this.tracked.size;
  }

  /** Re-check every live connection against the current CRL; returns how many were dropped. */
  recheck(): number {
    let dropped = 0;
    for (const [socket, peer] of [...this.tracked]) {
      if (!this.identity.isRevoked(peer.serial)) continue;
      this.tracked.delete(socket);
      this.onRefused(`certificate revoked (serial ${peer.serial}, ${formatSubject(peer.subject)})`, peer);
      socket.destroy();
      dropped++;
    }
    return dropped;
  }

  close(): void {
    this.off();
    this.tracked.clear();
  }
}
