/**
 * HTTP Digest authentication for SIP (RFC 3261 22, RFC 2617, RFC 8760
 * SHA-256), sans-IO.
 *
 * - The realm is the domain of the account (alice@a authenticates in realm
 *   `a`, with a's password): challenges, answers and credentials are per
 *   realm.
 * - Nonces are stateless: issue time, random and the issuing member, signed
 *   with the cluster key ring; they expire after `nonceTtlMs` (then
 *   `stale=true`). Replay state (nonce counts, used nonces) lives on the
 *   member that issued the nonce, so only that member accepts answers to it:
 *   another member answers `stale=true` with a nonce of its own (the client
 *   retries at once, without asking its user), and a captured answer cannot
 *   be replayed at another member.
 * - The digest `uri` must name the Request-URI (RFC 3261 22.4, RFC 2617
 *   3.2.2.5): an answer computed for another target is refused.
 * - qop=auth is required: every nonce count must grow, so a captured answer
 *   cannot be replayed. Realms listed in `noQopRealms` (legacy phones)
 *   may answer without qop (RFC 2069); such a nonce is good for one answer,
 *   the next gets a `stale=true` challenge with a fresh nonce.
 */
import crypto, { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import { KeyRing } from "../../base/index.js";
import { canonicalHost, fillRandom, ownCopy, parseUri, splitTopLevel, unquote } from "../message/index.js";

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
  | { ok: false; reason: "no-credentials" | "malformed" | "unknown-user" | "wrong-realm" | "bad-nonce" | "stale" | "replay" | "mismatch" | "unsupported" | "blocked" | "qop-required" | "wrong-uri"; username?: string };

/** Node's one-shot hash (20.12 and later): a third of the cost of a Hash object for a short string. */
const oneShot = (crypto as { hash?: (alg: string, data: string, encoding: "hex") => string }).hash;
const hashHex = oneShot
  ? (alg: DigestAlgorithm, s: string) => oneShot(alg === "MD5" ? "md5" : "sha256", s, "hex")
  : (alg: DigestAlgorithm, s: string) => createHash(alg === "MD5" ? "md5" : "sha256").update(s).digest("hex");

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

/** What a digest `uri` may name. */
export interface DigestTarget {
  /** The Request-URI as the client sent it. */
  requestUri: string;
  /**
   * Whether a digest uri names this server (its address, no user part):
   * some user agents (SIPp, phones with an outbound proxy) put the next hop
   * there. Such an answer is still bound to its nonce, nonce count and
   * method. @default none accepted
   */
  namesServer?: (digestUri: string) => boolean;
}

export interface DigestOptions {
  /** The realm of {@link DigestAuthenticator.verify} and challenges when none is given. */
  realm: string;
  /** Keys that sign nonces (the cluster secret, so every member accepts them). @default an ephemeral key */
  keys?: KeyRing;
  /** @default 300 s */
  nonceTtlMs?: number;
  /** Algorithms offered, preferred first. @default ["SHA-256", "MD5"] */
  algorithms?: DigestAlgorithm[];
  /** Realms whose clients may answer without qop (legacy phones; one answer per nonce). @default none */
  noQopRealms?: string[];
  /** Replay records kept (one per nonce and user within the nonce lifetime); past it the oldest nonces turn stale. @default 100,000 */
  maxReplayRecords?: number;
  /** Who issues the nonces (the member id): answers to nonces issued by another member get `stale`. @default random per process */
  issuer?: string;
  now?: () => number;
}

/** Default lifetime of a nonce. @default 300 s */
export const DEFAULT_NONCE_TTL_MS = 300_000;
/** Replay records kept: a flood of valid answers cannot grow memory without bound. @default 100,000 */
export const DEFAULT_MAX_REPLAY_RECORDS = 100_000;

export class DigestAuthenticator {
  private readonly keys: KeyRing;
  private readonly ttl: number;
  private readonly now: () => number;
  private readonly noQop: Set<string>;
  private readonly issuer: Buffer;
  /**
   * nonce|username → highest nonce count seen (qop=auth), or -1 for a nonce
   * used without qop; in order of first use, so expired records are removed
   * from the front, a few per answer (never a scan of the whole map).
   */
  private readonly counts = new Map<string, { nc: number; expires: number; issued: number }>();
  /** Nonces issued at or before this time are stale: their replay records were evicted to bound memory. */
  private staleBefore = -Infinity;
  readonly algorithms: DigestAlgorithm[];

  constructor(
    /** The synchronous store {@link verify} uses; callers with a remote store use {@link pick} and {@link check}. */
    private readonly store: CredentialStore | undefined,
    readonly opts: DigestOptions,
  ) {
    this.keys = opts.keys ?? KeyRing.ephemeral();
    this.ttl = opts.nonceTtlMs ?? DEFAULT_NONCE_TTL_MS;
    this.now = opts.now ?? Date.now;
    this.algorithms = opts.algorithms ?? ["SHA-256", "MD5"];
    this.noQop = new Set((opts.noQopRealms ?? []).map(canonicalHost));
    this.issuer = opts.issuer !== undefined ? createHash("sha256").update(opts.issuer).digest().subarray(0, 4) : randomBytes(4);
  }

  get realm(): string {
    return this.opts.realm;
  }

  /** Whether answers without qop are accepted in `realm`. */
  allowsNoQop(realm: string): boolean {
    return this.noQop.has(canonicalHost(realm));
  }

  /** `<time 8, random 8, issuer 4: base64url>.<kid>.<tag over it and the realm>`. */
  newNonce(realm = this.opts.realm): string {
    const body = Buffer.allocUnsafe(20);
    body.writeBigUInt64BE(BigInt(this.now()), 0);
    fillRandom(body, 8, 8);
    this.issuer.copy(body, 16);
    const text = body.toString("base64url");
    const { kid, tag } = this.keys.sign(`nonce|${text}|${realm}`);
    return `${text}.${kid}.${tag}`;
  }

  /** The challenge header values for `realm` (one per algorithm, preferred first, RFC 8760 2.4). */
  challenges(stale = false, realm = this.opts.realm): string[] {
    const nonce = this.newNonce(realm);
    return this.algorithms.map((alg) => `Digest realm="${realm}", nonce="${nonce}", algorithm=${alg}, qop="auth"${stale ? ", stale=true" : ""}`);
  }

  /** The issue time of a nonce we issued and that is still fresh, or why not. */
  private checkNonce(nonce: string, realm: string): number | "bad" | "stale" {
    const parts = nonce.split(".");
    if (parts.length !== 3 || parts[0]!.length !== 27) return "bad";
    const [text, kid, tag] = parts as [string, string, string];
    if (!this.keys.verify(kid, `nonce|${text}|${realm}`, tag)) return "bad";
    const body = Buffer.from(text, "base64url");
    // Another member's nonce: its replay state is there, not here.
    if (!body.subarray(16, 20).equals(this.issuer)) return "stale";
    const issued = Number(body.readBigUInt64BE(0));
    return this.now() - issued > this.ttl || issued <= this.staleBefore ? "stale" : issued;
  }

  /** Check the credentials of a request (`headers`: its Authorization or Proxy-Authorization values) in `realm`. */
  verify(method: string, headers: readonly string[], requestUri: string, realm = this.opts.realm): DigestVerdict {
    const d = this.pick(headers, realm);
    if (!("response" in d)) return d;
    return this.check(method, { requestUri }, d, this.store?.lookup(d.username, d.realm));
  }

  /** The digest answer for `realm` among `headers`, or the verdict when there is none. */
  pick(headers: readonly string[], realm = this.opts.realm): DigestResponse | Extract<DigestVerdict, { ok: false }> {
    const mine = headers.map(parseDigest).filter((d): d is DigestResponse => d !== undefined && d.realm === realm);
    if (mine.length === 0) return { ok: false, reason: headers.length === 0 ? "no-credentials" : "malformed" };
    return mine[0]!;
  }

  /**
   * Check one digest answer to a request for `target.requestUri` against the
   * user's credentials (looked up by the caller, maybe remotely).
   * `target.namesServer` accepts a digest uri that names the server itself
   * instead (see {@link DigestTarget}).
   */
  check(method: string, target: DigestTarget, d: DigestResponse, creds: Credentials | undefined): DigestVerdict {
    if (!creds) return { ok: false, reason: "unknown-user", username: d.username };
    const issued = this.checkNonce(d.nonce, d.realm);
    if (issued === "bad") return { ok: false, reason: "bad-nonce", username: d.username };
    if (issued === "stale") return { ok: false, reason: "stale", username: d.username };
    // RFC 2617 3.2.2.5: the digest-uri names the Request-URI, else the answer was made for another request.
    if (!sameTarget(d.uri, target.requestUri) && !(target.namesServer?.(d.uri) ?? false)) return { ok: false, reason: "wrong-uri", username: d.username };
    if (d.qop === undefined && !this.allowsNoQop(d.realm)) return { ok: false, reason: "qop-required", username: d.username };
    // HA1 of a clear-text password: one short hash (a cache of them cost more memory than it saved time).
    const ha1 = creds.ha1?.[d.algorithm] ?? (creds.password !== undefined ? computeHa1(d.algorithm, d.username, d.realm, creds.password) : undefined);
    if (!ha1) return { ok: false, reason: "unsupported", username: d.username };
    if (d.qop !== undefined && (d.qop.toLowerCase() !== "auth" || !d.nc || !d.cnonce || !/^[0-9a-fA-F]{8}$/.test(d.nc))) return { ok: false, reason: "malformed", username: d.username };
    const expected = digestResponse(d.algorithm, ha1, d.nonce, method, d.uri, d.qop !== undefined ? { qop: d.qop, nc: d.nc!, cnonce: d.cnonce! } : undefined);
    const a = Buffer.from(expected);
    const b = Buffer.from(d.response);
    if (a.length !== b.length || !timingSafeEqual(a, b)) return { ok: false, reason: "mismatch", username: d.username };
    // Its own string: a record lives for the nonce lifetime and must not hold the message it came in.
    const key = ownCopy(`${d.nonce}|${d.username}`);
    const seen = this.counts.get(key);
    if (d.qop !== undefined) {
      // RFC 2617 3.2.2: the nonce count grows with every request on a nonce.
      const nc = parseInt(d.nc!, 16);
      if (seen && (seen.nc < 0 || nc <= seen.nc)) return { ok: false, reason: "replay", username: d.username };
      if (seen) seen.nc = nc;
      else this.remember(key, nc, issued);
    } else {
      // Without qop nothing tells one answer from its replay: the nonce is good once.
      // The client gets a stale=true challenge and retries with a fresh nonce.
      if (seen) return { ok: false, reason: "stale", username: d.username };
      this.remember(key, -1, issued);
    }
    if (creds.blocked) return { ok: false, reason: "blocked", username: d.username };
    return { ok: true, username: d.username };
  }

  /**
   * Record the first use of a nonce: expired records go from the front of
   * the map (first used, first expired); past `maxReplayRecords` the oldest
   * is evicted and every nonce issued up to its nonce's time becomes stale,
   * so an evicted record can never be replayed (its client is challenged
   * again). Constant work per answer, whatever the flood.
   */
  private remember(key: string, nc: number, issued: number): void {
    const now = this.now();
    this.counts.set(key, { nc, expires: now + this.ttl, issued });
    for (const [k, c] of this.counts) {
      if (c.expires >= now && this.counts.size <= (this.opts.maxReplayRecords ?? DEFAULT_MAX_REPLAY_RECORDS)) break;
      if (c.expires >= now) this.staleBefore = Math.max(this.staleBefore, c.issued);
      this.counts.delete(k);
    }
  }

  /** Remove every expired replay record. */
  sweep(): void {
    const now = this.now();
    for (const [n, c] of this.counts) if (c.expires < now) this.counts.delete(n);
  }
}

/**
 * Whether a digest `uri` names the same target as the Request-URI: equal
 * text, or SIP URIs with the same scheme, user, host (canonical) and port
 * (parameters aside: clients differ in which they copy).
 */
function sameTarget(digestUri: string, requestUri: string): boolean {
  if (digestUri === requestUri) return true;
  const a = parseUri(digestUri);
  const b = parseUri(requestUri);
  if (!a.ok || !b.ok || a.uri.kind !== "sip" || b.uri.kind !== "sip") return false;
  return a.uri.scheme === b.uri.scheme && a.uri.user === b.uri.user && canonicalHost(a.uri.host) === canonicalHost(b.uri.host) && a.uri.port === b.uri.port;
}
