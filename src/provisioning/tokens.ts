/**
 * API tokens: `name:scope:secret` (scope `read` or `write`; write includes
 * read). Secrets are compared in constant time through their SHA-256.
 */
import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import { ValidationError } from "./errors.js";

export type TokenScope = "read" | "write";

export interface ApiToken {
  name: string;
  scope: TokenScope;
  secret: string;
}

export function parseToken(text: string): ApiToken {
  const m = /^([A-Za-z0-9_.-]{1,64}):(read|write):([\x21-\x7e]{16,256})$/.exec(text.trim());
  if (!m) throw new ValidationError(`API token "${text.split(":")[0] ?? ""}:...": write name:read|write:secret (name: letters, digits . _ -; secret: 16-256 printable characters)`);
  return { name: m[1]!, scope: m[2] as TokenScope, secret: m[3]! };
}

export function generateSecret(): string {
  return randomBytes(24).toString("base64url");
}

const digest = (s: string) => createHash("sha256").update(s).digest();

export class TokenRing {
  private readonly tokens: Array<{ name: string; scope: TokenScope; hash: Buffer }>;

  constructor(tokens: readonly ApiToken[]) {
    this.tokens = tokens.map((t) => ({ name: t.name, scope: t.scope, hash: digest(t.secret) }));
  }

  get size(): number {
    return this.tokens.length;
  }

  /** The token with this secret, or undefined. Every token is compared, in constant time. */
  verify(secret: string): { name: string; scope: TokenScope } | undefined {
    const h = digest(secret);
    let found: { name: string; scope: TokenScope } | undefined;
    for (const t of this.tokens) if (timingSafeEqual(t.hash, h) && !found) found = { name: t.name, scope: t.scope };
    return found;
  }
}
