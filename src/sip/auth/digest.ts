/**
 * HTTP Digest authentication for SIP (RFC 3261 22, RFC 2617, RFC 8760
 * SHA-256), sans-IO. Nonces are stateless (timestamp + random, signed with
 * an HMAC), expire after `nonceTtlMs` (then `stale=true`), and with
 * qop=auth every nonce count must grow, so a captured response cannot be
 * replayed.
 */
import { createHash, createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import { fillRandom, splitTopLevel, unquote } from "../message/index.js";

export type DigestAlgorithm = "MD5" | "SHA-256";

/** What a credential store knows of a user: the password, or precomputed HA1 values. */
export interface Credentials {
  password?: string;
  /** A blocked or disabled account: it authenticates to nothing (403). */
  blocked?: boolean;
  /** H(username:realm:password) per algorithm, hex. */
  ha1?: Partial<Record<DigestAlgorithm, string>>;
}

export interface CredentialStore {
  lookup(username: string, realm: string): Credentials | undefined;
}

/** A credential source that may have to ask elsewhere (the subscriber's responsible node). */
export interface AsyncCredentialStore {
  lookup(username: string, realm: string): Credentials | undefined | Promise<Credentials | undefined>;
}

export interface DigestResponse {
  username: string;
  realm: string;
  nonce: string;
  uri: string;
  response: string;
  algorithm: DigestAlgorithm;
  qop: string | undefined;
  nc: string | undefined;
  cnonce: string | undefined;
  opaque: string | undefined;
}

export type DigestVerdict =
  | { ok: true; username: string }
  | { ok: false; reason: "no-credentials" | "malformed" | "unknown-user" | "wrong-realm" | "bad-nonce" | "stale" | "replay" | "mismatch" | "unsupported" | "blocked"; username?: string };

const hashHex = (alg: DigestAlgorithm, s: string) => createHash(alg === "MD5" ? "md5" : "sha256").update(s).digest("hex");

export function computeHa1(alg: DigestAlgorithm, username: string, realm: string, password: string): string {
  return hashHex(alg, `${username}:${realm}:${password}`);
}

/** The request-digest (RFC 2617 3.2.2.1, RFC 7616 3.4.1) for qop=auth, or the RFC 2069 form without qop. */
export function digestResponse(alg: DigestAlgorithm, ha1: string, nonce: string, method: string, uri: string, qop?: { qop: string; nc: string; cnonce: string }): string {
  const ha2 = hashHex(alg, `${method}:${uri}`);
  return qop ? hashHex(alg, `${ha1}:${nonce}:${qop.nc}:${qop.cnonce}:${qop.qop}:${ha2}`) : hashHex(alg, `${ha1}:${nonce}:${ha2}`);
}

/** Parse `Digest a="b", c=d` (Authorization / Proxy-Authorization). */
export function parseDigest(value: string): DigestResponse | undefined {
  const m = /^\s*Digest\s+(.*)$/is.exec(value);
  if (!m) return undefined;
  const parts = splitTopLevel(m[1]!, ",");
  if (!parts) return undefined;
  const p = new Map<string, string>();
  for (const raw of parts) {
    const eq = raw.indexOf("=");
    if (eq < 0) return undefined;
    const k = raw.slice(0, eq).trim().toLowerCase();
    let v = raw.slice(eq + 1).trim();
    if (v.startsWith('"')) {
      const u = unquote(v);
      if (u === undefined) return undefined;
      v = u;
    }
    p.set(k, v);
  }
  const get = (k: string) => p.get(k);
  const username = get("username");
  const realm = get("realm");
  const nonce = get("nonce");
  const uri = get("uri");
  const response = get("response");
  if (username === undefined || realm === undefined || nonce === undefined || uri === undefined || response === undefined) return undefined;
  const algText = (get("algorithm") ?? "MD5").toUpperCase();
  if (algText !== "MD5" && algText !== "SHA-256") return undefined;
  return { username, realm, nonce, uri, response: response.toLowerCase(), algorithm: algText, qop: get("qop"), nc: get("nc"), cnonce: get("cnonce"), opaque: get("opaque") };
}

export interface DigestOptions {
  realm: string;
  secret?: Buffer;
  /** @default 300 s */
  nonceTtlMs?: number;
  /** Algorithms offered, preferred first. @default ["SHA-256", "MD5"] */
  algorithms?: DigestAlgorithm[];
  now?: () => number;
}

export class DigestAuthenticator {
  private readonly secret: Buffer;
  private readonly ttl: number;
  private readonly now: () => number;
  /** nonce|username → highest nonce count seen (qop=auth replay protection). */
  private readonly counts = new Map<string, { nc: number; expires: number }>();
  private readonly ha1s = new Map<string, { password: string; ha1: string }>();
  readonly algorithms: DigestAlgorithm[];

  constructor(
    /** The synchronous store {@link verify} uses; callers with a remote store use {@link pick} and {@link check}. */
    private readonly store: CredentialStore | undefined,
    readonly opts: DigestOptions,
  ) {
    this.secret = opts.secret ?? randomBytes(32);
    this.ttl = opts.nonceTtlMs ?? 300_000;
    this.now = opts.now ?? Date.now;
    this.algorithms = opts.algorithms ?? ["SHA-256", "MD5"];
  }

  get realm(): string {
    return this.opts.realm;
  }

  newNonce(): string {
    const nonce = Buffer.allocUnsafe(28);
    nonce.writeBigUInt64BE(BigInt(this.now()), 0);
    fillRandom(nonce, 8, 8);
    createHmac("sha256", this.secret).update(nonce.subarray(0, 16)).update(this.opts.realm).digest().copy(nonce, 16, 0, 12);
    return nonce.toString("base64url");
  }

  /** The challenge header values (one per algorithm, preferred first, RFC 8760 2.4). */
  challenges(stale = false): string[] {
    const nonce = this.newNonce();
    return this.algorithms.map((alg) => `Digest realm="${this.opts.realm}", nonce="${nonce}", algorithm=${alg}, qop="auth"${stale ? ", stale=true" : ""}`);
  }

  private checkNonce(nonce: string): "ok" | "bad" | "stale" {
    let raw: Buffer;
    try {
      raw = Buffer.from(nonce, "base64url");
    } catch {
      return "bad";
    }
    if (raw.length !== 28) return "bad";
    const body = raw.subarray(0, 16);
    const mac = createHmac("sha256", this.secret).update(body).update(this.opts.realm).digest().subarray(0, 12);
    if (!timingSafeEqual(mac, raw.subarray(16))) return "bad";
    const issued = Number(body.readBigUInt64BE(0));
    return this.now() - issued > this.ttl ? "stale" : "ok";
  }

  /** Check the credentials of a request (`header`: its Authorization or Proxy-Authorization values). */
  verify(method: string, headers: readonly string[]): DigestVerdict {
    const d = this.pick(headers);
    if (!("response" in d)) return d;
    return this.check(method, d, this.store?.lookup(d.username, d.realm));
  }

  /** The digest answer for our realm among `headers`, or the verdict when there is none. */
  pick(headers: readonly string[]): DigestResponse | Extract<DigestVerdict, { ok: false }> {
    const mine = headers.map(parseDigest).filter((d): d is DigestResponse => d !== undefined && d.realm === this.opts.realm);
    if (mine.length === 0) return { ok: false, reason: headers.length === 0 ? "no-credentials" : "malformed" };
    return mine[0]!;
  }

  /** Check one digest answer against the user's credentials (looked up by the caller, maybe remotely). */
  check(method: string, d: DigestResponse, creds: Credentials | undefined): DigestVerdict {
    if (!creds) return { ok: false, reason: "unknown-user", username: d.username };
    const nonce = this.checkNonce(d.nonce);
    if (nonce === "bad") return { ok: false, reason: "bad-nonce", username: d.username };
    if (nonce === "stale") return { ok: false, reason: "stale", username: d.username };
    const ha1 = creds.ha1?.[d.algorithm] ?? (creds.password !== undefined ? this.ha1Of(d.algorithm, d.username, d.realm, creds.password) : undefined);
    if (!ha1) return { ok: false, reason: "unsupported", username: d.username };
    if (d.qop !== undefined && (d.qop.toLowerCase() !== "auth" || !d.nc || !d.cnonce || !/^[0-9a-fA-F]{8}$/.test(d.nc))) return { ok: false, reason: "malformed", username: d.username };
    const expected = digestResponse(d.algorithm, ha1, d.nonce, method, d.uri, d.qop !== undefined ? { qop: d.qop, nc: d.nc!, cnonce: d.cnonce! } : undefined);
    const a = Buffer.from(expected);
    const b = Buffer.from(d.response);
    if (a.length !== b.length || !timingSafeEqual(a, b)) return { ok: false, reason: "mismatch", username: d.username };
    if (d.qop !== undefined) {
      const nc = parseInt(d.nc!, 16);
      const key = `${d.nonce}|${d.username}`;
      const seen = this.counts.get(key);
      if (seen && nc <= seen.nc) return { ok: false, reason: "replay", username: d.username };
      this.counts.set(key, { nc, expires: this.now() + this.ttl });
      if (this.counts.size > 100_000) this.sweep();
    }
    if (creds.blocked) return { ok: false, reason: "blocked", username: d.username };
    return { ok: true, username: d.username };
  }

  /** HA1 from a clear-text password, remembered while the password stays the same. */
  private ha1Of(alg: DigestAlgorithm, username: string, realm: string, password: string): string {
    const key = `${alg}\0${username}\0${realm}`;
    const known = this.ha1s.get(key);
    if (known && known.password === password) return known.ha1;
    const ha1 = computeHa1(alg, username, realm, password);
    if (this.ha1s.size >= 100_000) this.ha1s.clear();
    this.ha1s.set(key, { password, ha1 });
    return ha1;
  }

  /** Forget nonce counts of expired nonces. */
  sweep(): void {
    const now = this.now();
    for (const [n, c] of this.counts) if (c.expires < now) this.counts.delete(n);
  }
}
