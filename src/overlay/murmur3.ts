/**
 * MurmurHash3 x86_32 (Austin Appleby, public domain) over the UTF-8 bytes of
 * a string. The ring's hash: fast, well distributed, and the same in every
 * language, so any implementation can compute the same owners.
 */
const C1 = 0xcc9e2d51;
const C2 = 0x1b873593;

const encoder = new TextEncoder();

function mixK(k: number): number {
  k = Math.imul(k, C1);
  k = (k << 15) | (k >>> 17);
  return Math.imul(k, C2);
}

function mixH(h: number, k: number): number {
  h ^= mixK(k);
  h = (h << 13) | (h >>> 19);
  return (Math.imul(h, 5) + 0xe6546b64) | 0;
}

function finish(h: number, length: number): number {
  h ^= length;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** murmur3_x86_32 of raw bytes. */
export function murmur3Bytes(bytes: Uint8Array, seed = 0): number {
  let h = seed | 0;
  const len = bytes.length;
  const blocks = len & ~3;
  let i = 0;
  for (; i < blocks; i += 4) {
    h = mixH(h, bytes[i]! | (bytes[i + 1]! << 8) | (bytes[i + 2]! << 16) | (bytes[i + 3]! << 24));
  }
  const rest = len & 3;
  if (rest > 0) {
    let k = bytes[i]!;
    if (rest > 1) k |= bytes[i + 1]! << 8;
    if (rest > 2) k |= bytes[i + 2]! << 16;
    h ^= mixK(k);
  }
  return finish(h, len);
}

/** murmur3_x86_32 of the UTF-8 encoding of `text` (no allocation for ASCII). */
export function murmur3(text: string, seed = 0): number {
  const len = text.length;
  for (let j = 0; j < len; j++) if (text.charCodeAt(j) > 0x7f) return murmur3Bytes(encoder.encode(text), seed);
  let h = seed | 0;
  const blocks = len & ~3;
  let i = 0;
  for (; i < blocks; i += 4) {
    h = mixH(h, text.charCodeAt(i) | (text.charCodeAt(i + 1) << 8) | (text.charCodeAt(i + 2) << 16) | (text.charCodeAt(i + 3) << 24));
  }
  const rest = len & 3;
  if (rest > 0) {
    let k = text.charCodeAt(i);
    if (rest > 1) k |= text.charCodeAt(i + 1) << 8;
    if (rest > 2) k |= text.charCodeAt(i + 2) << 16;
    h ^= mixK(k);
  }
  return finish(h, len);
}
