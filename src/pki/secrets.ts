/**
 * The cluster secret: HMAC keys every member shares, kept next to the CA and
 * distributed to members the same way as their certificates.
 *
 *   <dir>/secrets/<kid>.key    32 random bytes, mode 0600 (directory 0700)
 *
 * The key id is the creation time in seconds, base 36, seven characters, so
 * ids sort by age. Members verify with every key present and sign with the
 * newest key that is at least {@link DEFAULT_SECRET_ACTIVATION_MS} old (the
 * newest of all when none is), so a new key is in every member's hands
 * before anyone signs with it; they re-read the directory periodically
 * (like the CRL). Rotation: `thor ca secret new`, copy the directory to
 * every member within the activation delay, and once the longest-lived
 * signature made with the old key has expired (24 h, the Record-Route
 * tokens), `thor ca secret retire <old kid>`.
 */
import { randomBytes } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { KeyRing, type SigningKey } from "../base/index.js";
import { PkiExistsError, PkiInvalidError, PkiNotFoundError } from "./errors.js";

/** Bytes of a cluster secret. */
export const SECRET_BYTES = 32;
/** A new secret signs only once it is this old: time to copy it to every member. @default 10 min */
export const DEFAULT_SECRET_ACTIVATION_MS = 600_000;
const KID = /^[a-z0-9]{7}$/;

export interface SecretInfo {
  kid: string;
  path: string;
  createdAt: Date;
}

/** `<dir>/secrets`. */
export function secretsDir(caDir: string): string {
  return join(caDir, "secrets");
}

/** Create a new cluster secret (it becomes the signing key); returns its id and file. */
export function createSecret(caDir: string, now = Date.now()): SecretInfo {
  const dir = secretsDir(caDir);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  chmodSync(dir, 0o700);
  let seconds = Math.floor(now / 1000);
  const taken = new Set(listSecrets(caDir).map((s) => s.kid));
  // A second key in the same second (or a clock set back) still gets the newest id.
  const newest = [...taken].sort().at(-1);
  if (newest !== undefined) seconds = Math.max(seconds, parseInt(newest, 36) + 1);
  const kid = seconds.toString(36).padStart(7, "0");
  const path = join(dir, `${kid}.key`);
  if (existsSync(path)) throw new PkiExistsError(`secret ${kid} exists already`);
  const tmp = `${path}.tmp`;
  writeFileSync(tmp, randomBytes(SECRET_BYTES), { mode: 0o600 });
  chmodSync(tmp, 0o600);
  renameSync(tmp, path);
  return { kid, path, createdAt: new Date(seconds * 1000) };
}

/** The cluster secrets present, newest first. */
export function listSecrets(caDir: string): SecretInfo[] {
  const dir = secretsDir(caDir);
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .map((f) => /^([a-z0-9]{7})\.key$/.exec(f)?.[1])
    .filter((k): k is string => k !== undefined)
    .sort()
    .reverse()
    .map((kid) => ({ kid, path: join(dir, `${kid}.key`), createdAt: new Date(parseInt(kid, 36) * 1000) }));
}

/** Remove a secret; the last one cannot be retired (members would have nothing to sign with). */
export function retireSecret(caDir: string, kid: string): void {
  if (!KID.test(kid)) throw new PkiInvalidError(`invalid secret id "${kid}"`);
  const all = listSecrets(caDir);
  const found = all.find((s) => s.kid === kid);
  if (!found) throw new PkiNotFoundError(`no secret ${kid} in ${secretsDir(caDir)}`);
  if (all.length === 1) throw new PkiInvalidError(`secret ${kid} is the only one: create its successor first (thor ca secret new)`);
  rmSync(found.path);
}

/** Read one secret file (mode must not let others read it). */
export function readSecretFile(path: string, kid: string): SigningKey {
  let st;
  try {
    st = statSync(path);
  } catch (err) {
    throw new PkiNotFoundError(`cannot read secret ${path}: ${(err as Error).message}`);
  }
  if ((st.mode & 0o077) !== 0) throw new PkiInvalidError(`secret ${path} is readable by others (mode ${(st.mode & 0o777).toString(8)}): chmod 600 it`);
  const key = readFileSync(path);
  if (key.length < 16) throw new PkiInvalidError(`secret ${path} is too short (${key.length} bytes, at least 16)`);
  return { id: kid, key };
}

/** The cluster secrets of `caDir` as a key ring (the signing key first), or undefined when there are none. */
export function loadSecrets(caDir: string, now = Date.now(), activationMs = DEFAULT_SECRET_ACTIVATION_MS): KeyRing | undefined {
  const keys = readAll(caDir, now, activationMs);
  return keys.length > 0 ? new KeyRing(keys) : undefined;
}

/** Every secret, the signing one first: the newest that is `activationMs` old, else the oldest. */
function readAll(caDir: string, now: number, activationMs: number): SigningKey[] {
  const infos = listSecrets(caDir);
  const active = infos.findIndex((s) => s.createdAt.getTime() <= now - activationMs);
  const signer = active >= 0 ? active : infos.length - 1;
  if (signer > 0) infos.unshift(...infos.splice(signer, 1));
  return infos.map((s) => readSecretFile(s.path, s.kid));
}

/**
 * Re-read `caDir`'s secrets every `intervalMs` into `ring` (a key added or
 * retired takes effect without a restart, a new key signs once it is
 * `activationMs` old). An empty or unreadable directory
 * keeps the keys in force and is reported through `onError`. Returns the stop
 * function; the timer does not keep the process alive.
 */
export function watchSecrets(caDir: string, ring: KeyRing, intervalMs: number, onError: (message: string) => void, activationMs = DEFAULT_SECRET_ACTIVATION_MS): () => void {
  let last = ring.ids().join(",");
  const timer = setInterval(() => {
    try {
      const keys = readAll(caDir, Date.now(), activationMs);
      const ids = keys.map((k) => k.id).join(",");
      if (ids === last) return;
      if (keys.length === 0) return onError(`no cluster secret left in ${secretsDir(caDir)}; keeping the keys in force`);
      ring.replace(keys);
      last = ids;
    } catch (err) {
      onError(err instanceof Error ? err.message : String(err));
    }
  }, intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}
