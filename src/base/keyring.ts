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

/** How many tags a ring remembers having made or checked (see {@link KeyRing.verify}). */
export const RECENT_TAGS = 8192;

export class KeyRing {
  private keys: readonly SigningKey[] = [];
  /**
   * `kid|tag|data` of the tags made or checked lately, oldest first: a tag
   * checked a moment after it was made (a nonce coming back with the
   * credentials, a dialog's Record-Route in its ACK and BYE) costs a lookup
   * instead of an HMAC. The answer is the same (an HMAC is a function of the
   * key and the data); emptied when the keys change.
   */
  private readonly recent = new Set<string>();
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
    this.recent.clear();
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
    const kid = this.keys[0]!.id;
    const tag = tagOf(this.signing, data);
    this.remember(`${kid}|${tag}|${data}`);
    return { kid, tag };
  }

  /** Whether `tag` is the tag over `data` with key `kid` (a key still present). */
  verify(kid: string, data: string, tag: string): boolean {
    const key = this.byId.get(kid);
    if (!key || tag.length !== 22) return false;
    const seen = `${kid}|${tag}|${data}`;
    if (this.recent.has(seen)) return true;
    const given = Buffer.from(tag, "base64url");
    if (given.length !== TAG_BYTES) return false;
    const ok = timingSafeEqual(given, createHmac("sha256", key).update(data).digest().subarray(0, TAG_BYTES));
    if (ok) this.remember(seen);
    return ok;
  }

  private remember(seen: string): void {
    if (this.recent.size >= RECENT_TAGS) this.recent.delete(this.recent.values().next().value!);
    // Its own flat copy: the parts may be slices of a received message, which must not stay alive with it.
    this.recent.add(` ${seen}`.slice(1));
  }
}

function tagOf(key: KeyObject, data: string): string {
  return createHmac("sha256", key).update(data).digest().subarray(0, TAG_BYTES).toString("base64url");
}
