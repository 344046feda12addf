/**
 * Who may see the web dashboard: an operator, proven by an operator token
 * (`Authorization: Bearer`, or the HttpOnly cookie the login form sets) or,
 * over HTTPS, by a client certificate of the operator CA with `OU=operator`
 * (the same credential `thor drain` uses). Everything else is refused: no
 * credential or a wrong token → 401; a valid certificate of the CA that is
 * not an operator's (and no valid token) → 403.
 *
 * Tokens are compared in constant time through their SHA-256. The
 * certificate check itself (CA, current CRL, passport) is the PKI's; it is
 * passed in so that this folder does not import pki/.
 */
import { createHash, timingSafeEqual } from "node:crypto";

/** Name of the session cookie (it carries the token; HttpOnly, SameSite=Strict, Secure over HTTPS). */
export const DASHBOARD_COOKIE = "thor_dashboard";
/** Shortest operator token accepted. */
export const MIN_DASHBOARD_TOKEN_LENGTH = 16;
/** Longest token or cookie value looked at. */
const MAX_TOKEN_LENGTH = 512;

/** The verdict on a client certificate, from the PKI (see `authorizePeer`). */
export type CertificateVerdict =
  /** No certificate, or none the CA verified: fall back to the token. */
  | { readonly type: "none" }
  | { readonly type: "operator"; readonly who: string }
  /** Verified by the CA but not allowed here (not OU=operator, revoked). */
  | { readonly type: "refused"; readonly reason: string };

export type AuthDecision = { readonly ok: true; readonly who: string; readonly via: "certificate" | "token" } | { readonly ok: false; readonly status: 401 | 403; readonly reason: string; readonly wrongToken?: true };

export interface AuthRequest {
  authorization?: string | undefined;
  cookie?: string | undefined;
  certificate: CertificateVerdict;
}

const digest = (s: string): Buffer => createHash("sha256").update(s).digest();

export class OperatorAuth {
  private readonly hashes: Buffer[];

  /** @throws RangeError when a token is shorter than {@link MIN_DASHBOARD_TOKEN_LENGTH} or not printable ASCII. */
  constructor(tokens: readonly string[]) {
    for (const t of tokens) {
      if (!/^[\x21-\x7e]+$/.test(t) || t.length < MIN_DASHBOARD_TOKEN_LENGTH || t.length > MAX_TOKEN_LENGTH) {
        throw new RangeError(`an operator token must be ${MIN_DASHBOARD_TOKEN_LENGTH}-${MAX_TOKEN_LENGTH} printable characters without spaces`);
      }
    }
    this.hashes = tokens.map(digest);
  }

  get tokenCount(): number {
    return this.hashes.length;
  }

  /** True when `token` is one of the operator tokens; every token is compared. */
  verifyToken(token: string): boolean {
    if (token.length === 0 || token.length > MAX_TOKEN_LENGTH) return false;
    const h = digest(token);
    let found = false;
    for (const t of this.hashes) if (timingSafeEqual(t, h)) found = true;
    return found;
  }

  decide(req: AuthRequest): AuthDecision {
    if (req.certificate.type === "operator") return { ok: true, who: req.certificate.who, via: "certificate" };
    const token = bearer(req.authorization) ?? cookieValue(req.cookie, DASHBOARD_COOKIE);
    if (token !== undefined && this.verifyToken(token)) return { ok: true, who: "token", via: "token" };
    if (token !== undefined) return { ok: false, status: 401, reason: "invalid operator token", wrongToken: true };
    if (req.certificate.type === "refused") return { ok: false, status: 403, reason: req.certificate.reason };
    return { ok: false, status: 401, reason: "operator token or operator certificate (OU=operator) required" };
  }
}

/** The token of `Authorization: Bearer <token>`, or undefined. */
export function bearer(header: string | undefined): string | undefined {
  if (!header || header.length > MAX_TOKEN_LENGTH + 16) return undefined;
  const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
  return m?.[1];
}

/** The value of cookie `name` in a `Cookie` header, or undefined. */
export function cookieValue(header: string | undefined, name: string): string | undefined {
  if (!header || header.length > 8192) return undefined;
  for (const part of header.split(";")) {
    const eq = part.indexOf("=");
    if (eq < 0) continue;
    if (part.slice(0, eq).trim() !== name) continue;
    const raw = part.slice(eq + 1).trim();
    try {
      return raw.length > MAX_TOKEN_LENGTH * 3 ? undefined : decodeURIComponent(raw);
    } catch {
      return undefined;
    }
  }
  return undefined;
}
