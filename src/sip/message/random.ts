/**
 * Random bytes for tags, branches and nonces, drawn from a pool the
 * system CSPRNG fills 4 KiB at a time: one `randomFillSync` call serves
 * hundreds of messages instead of one call per message. The bytes are the
 * same quality as `randomBytes`; each is handed out once.
 */
import { randomFillSync } from "node:crypto";

const POOL = Buffer.alloc(4096);
let used = POOL.length;

/** `n` (at most 256) fresh random bytes, copied out of the pool into `into` at `offset`. */
export function fillRandom(into: Buffer, offset: number, n: number): void {
  if (n > 256) {
    randomFillSync(into, offset, n);
    return;
  }
  if (used + n > POOL.length) {
    randomFillSync(POOL);
    used = 0;
  }
  POOL.copy(into, offset, used, used + n);
  POOL.fill(0, used, used + n);
  used += n;
}

/** `n` random bytes as lowercase hex. */
export function randomHex(n: number): string {
  return randomText(n, "hex");
}

/** `n` random bytes as base64url. */
export function randomBase64Url(n: number): string {
  return randomText(n, "base64url");
}

function randomText(n: number, encoding: "hex" | "base64url"): string {
  if (used + n > POOL.length || n > 256) {
    const b = Buffer.allocUnsafe(n);
    fillRandom(b, 0, n);
    return b.toString(encoding);
  }
  const s = POOL.toString(encoding, used, used + n);
  POOL.fill(0, used, used + n);
  used += n;
  return s;
}
