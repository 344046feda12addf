/**
 * A ring of HMAC keys with ids, for values a member signs and any member of
 * the cluster must verify later (Record-Route entries, flow tokens, digest
 * nonces). Members sign with the newest key and verify with every key
 * present, so an operator rotates by adding a key, waiting until every
 * member has it and older signatures have expired, then retiring the old
 * one. Where the keys come from (files of the operator CA, or an ephemeral
 * key) is the caller's business.
 *
 * A tag is HMAC-SHA256 truncated to {@link TAG_BYTES} bytes, base64url.
 */
import { createHmac, createSecretKey, randomBytes, timingSafeEqual, type KeyObject } from "node:crypto";

/** Tag length in bytes (128 bits: forging one costs 2^128 tries). */
export const TAG_BYTES = 16;
/** Key ids: lowercase letters and digits (they travel inside SIP URIs and nonces). */
export const KEY_ID = /^[a-z0-9]{1,16}$/;

export interface SigningKey {
  readonly id: string;
  readonly key: Buffer;
}

export class KeyRing {
  private keys: readonly SigningKey[] = [];
  /** Keys imported once as KeyObjects: an HMAC over a Buffer key imports the key on every call. */
  private byId = new Map<string, KeyObject>();
  private signing!: KeyObject;

  /** `keys` newest first (the first one signs); at least one. */
  constructor(keys: readonly SigningKey[]) {
    this.replace(keys);
  }

  /** A ring of one random key (nothing signed with it survives the process). */
  static ephemeral(): KeyRing {
    return new KeyRing([{ id: "eph", key: randomBytes(32) }]);
  }

  /** Swap the keys (after the key directory changed); newest first. */
  replace(keys: readonly SigningKey[]): void {
    if (keys.length === 0) throw new Error("a key ring needs at least one key");
    for (const k of keys) if (!KEY_ID.test(k.id) || k.key.length < 16) throw new Error(`invalid signing key "${k.id}"`);
    this.keys = [...keys];
    this.byId = new Map(keys.map((k) => [k.id, createSecretKey(k.key)]));
    this.signing = createSecretKey(keys[0]!.key);
  }

  /** The key ids, newest first. */
  ids(): string[] {
    return this.keys.map((k) => k.id);
  }

  /** The id of the key that signs. */
  get currentId(): string {
    return this.keys[0]!.id;
  }

  /** `{ kid, tag }`: the tag over `data` with the newest key. */
  sign(data: string): { kid: string; tag: string } {
    return { kid: this.keys[0]!.id, tag: tagOf(this.signing, data) };
  }

  /** Whether `tag` is the tag over `data` with key `kid` (a key still present). */
  verify(kid: string, data: string, tag: string): boolean {
    const key = this.byId.get(kid);
    if (!key || tag.length !== 22) return false;
    const given = Buffer.from(tag, "base64url");
    if (given.length !== TAG_BYTES) return false;
    return timingSafeEqual(given, createHmac("sha256", key).update(data).digest().subarray(0, TAG_BYTES));
  }
}

function tagOf(key: KeyObject, data: string): string {
  return createHmac("sha256", key).update(data).digest().subarray(0, TAG_BYTES).toString("base64url");
}
