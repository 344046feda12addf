/**
 * The arrays behind a {@link HashRing} (ring.ts): sorted layers of points
 * with the slot owning each, a base cut by hash range into chunks, and the
 * two operations a change is made of: merging points into the extra layer
 * and rewriting one chunk of the base. Pure functions over immutable
 * arrays; nothing here changes an array another ring can see.
 */

const TWO32 = 2 ** 32;
/** Chunks hold at least this many points (small rings are one chunk). */
const MIN_CHUNK = 4096;

/** Sorted points (by hash, then owner id) with the slot owning each, as parallel arrays. */
export interface Layer {
  readonly points: Uint32Array;
  readonly owners: Uint32Array;
}

export const EMPTY_LAYER: Layer = { points: new Uint32Array(0), owners: new Uint32Array(0) };

/** Index of the first element of `pts` at or after `hash` (pts.length when none). */
export function lowerBound(pts: Uint32Array, hash: number, lo = 0, hi = pts.length): number {
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (pts[mid]! < hash) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * The base of a ring: chunk `i` holds the points with hashes from
 * `starts[i]` up to (not including) `starts[i + 1]` (the last one up to
 * 2³²). `starts[0]` is 0, so every hash has a chunk. Chunks are shared
 * between the rings of one lineage; a change replaces one.
 */
export class Base {
  constructor(
    readonly starts: readonly number[],
    readonly chunks: readonly Layer[],
    /** Points in all chunks. */
    readonly size: number,
  ) {}

  /** The chunk holding `hash`. */
  chunkOf(hash: number): number {
    const s = this.starts;
    let lo = 0;
    let hi = s.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (s[mid]! <= hash) lo = mid + 1;
      else hi = mid;
    }
    return lo - 1;
  }
}

/**
 * Points per chunk for a ring of `points` with `multiply` points per node:
 * about √(points × multiply), so that rewriting one chunk and carrying the
 * extra layer a sweep accumulates (one node's points per change) cost
 * about the same.
 */
export function chunkTarget(points: number, multiply: number): number {
  return Math.max(MIN_CHUNK, Math.ceil(Math.sqrt(points * multiply)));
}

/** `all` cut into equal hash ranges of about `target` points each (views, no copy). */
export function cutChunks(all: Layer, target: number): Base {
  const count = Math.max(1, Math.round(all.points.length / target));
  const starts: number[] = [];
  const chunks: Layer[] = [];
  let from = 0;
  for (let c = 0; c < count; c++) {
    const start = Math.floor((c * TWO32) / count);
    const end = c + 1 < count ? lowerBound(all.points, Math.floor(((c + 1) * TWO32) / count), from) : all.points.length;
    starts.push(start);
    chunks.push({ points: all.points.subarray(from, end), owners: all.owners.subarray(from, end) });
    from = end;
  }
  return new Base(starts, chunks, all.points.length);
}

/** Whether point (ah, slot a) comes before point (bh, slot b): by hash, then node id. */
function before(ah: number, a: number, bh: number, b: number, slots: ReadonlyArray<string | undefined>): boolean {
  return ah < bh || (ah === bh && slots[a]! < slots[b]!);
}

/**
 * `extra` without the points of slots that are now `undefined` (their node
 * left), with `fresh` (sorted, by hash then id) merged in. `dropped`: how
 * many points were left out.
 */
export function mergeExtra(extra: Layer, fresh: Layer, slots: ReadonlyArray<string | undefined>): { layer: Layer; dropped: number } {
  const ep = extra.points;
  const eo = extra.owners;
  const fp = fresh.points;
  const fo = fresh.owners;
  const points = new Uint32Array(ep.length + fp.length);
  const owners = new Uint32Array(ep.length + fp.length);
  let out = 0;
  let i = 0;
  for (let j = 0; j <= fp.length; j++) {
    for (; i < ep.length; i++) {
      const owner = eo[i]!;
      if (slots[owner] === undefined) continue;
      if (j < fp.length && !before(ep[i]!, owner, fp[j]!, fo[j]!, slots)) break;
      points[out] = ep[i]!;
      owners[out++] = owner;
    }
    if (j < fp.length) {
      points[out] = fp[j]!;
      owners[out++] = fo[j]!;
    }
  }
  const dropped = ep.length + fp.length - out;
  return { layer: dropped === 0 ? { points, owners } : { points: points.subarray(0, out), owners: owners.subarray(0, out) }, dropped };
}

/** The result of rewriting one chunk. */
export interface ChunkRewrite {
  readonly base: Base;
  /** The extra layer without the points now in the chunk. */
  readonly extra: Layer;
  /** Gone points left out of the chunk. */
  readonly dropped: number;
  /** Points written into new arrays. */
  readonly written: number;
  /** Chunks the rewritten one became (2 when it grew past twice the target and was split). */
  readonly chunks: number;
}

/**
 * Chunk `c` of `base` rewritten: its points whose slot is still in use, and
 * the points of `extra` in its hash range, merged in order. The other
 * chunks are shared. A chunk that grew past twice `target` is split in the
 * middle of its hash range.
 */
export function rewriteChunk(base: Base, c: number, extra: Layer, slots: ReadonlyArray<string | undefined>, target: number): ChunkRewrite {
  const ch = base.chunks[c]!;
  const lo = base.starts[c]!;
  const hi = c + 1 < base.starts.length ? base.starts[c + 1]! : TWO32;
  const ep = extra.points;
  const eo = extra.owners;
  const e0 = lowerBound(ep, lo);
  const e1 = hi === TWO32 ? ep.length : lowerBound(ep, hi, e0);
  const cp = ch.points;
  const co = ch.owners;
  let live = 0;
  for (let i = 0; i < co.length; i++) if (slots[co[i]!] !== undefined) live++;
  const dropped = cp.length - live;
  if (dropped === 0 && e1 === e0) return { base, extra, dropped: 0, written: 0, chunks: 1 };
  const n = live + (e1 - e0);
  const points = new Uint32Array(n);
  const owners = new Uint32Array(n);
  let out = 0;
  let i = 0;
  for (let e = e0; e <= e1; e++) {
    for (; i < cp.length; i++) {
      const owner = co[i]!;
      if (slots[owner] === undefined) continue;
      if (e < e1 && !before(cp[i]!, owner, ep[e]!, eo[e]!, slots)) break;
      points[out] = cp[i]!;
      owners[out++] = owner;
    }
    if (e < e1) {
      points[out] = ep[e]!;
      owners[out++] = eo[e]!;
    }
  }
  let rest = extra;
  let written = n;
  if (e1 > e0) {
    const len = ep.length - (e1 - e0);
    const rp = new Uint32Array(len);
    const ro = new Uint32Array(len);
    rp.set(ep.subarray(0, e0));
    ro.set(eo.subarray(0, e0));
    rp.set(ep.subarray(e1), e0);
    ro.set(eo.subarray(e1), e0);
    rest = { points: rp, owners: ro };
    written += len;
  }
  const starts = [...base.starts];
  const chunks = [...base.chunks];
  const size = base.size - dropped + (e1 - e0);
  if (n > 2 * target && hi - lo >= 2) {
    const mid = lo + Math.floor((hi - lo) / 2);
    const at = lowerBound(points, mid);
    starts.splice(c + 1, 0, mid);
    chunks.splice(c, 1, { points: points.subarray(0, at), owners: owners.subarray(0, at) }, { points: points.subarray(at), owners: owners.subarray(at) });
    return { base: new Base(starts, chunks, size), extra: rest, dropped, written, chunks: 2 };
  }
  chunks[c] = { points, owners };
  return { base: new Base(starts, chunks, size), extra: rest, dropped, written, chunks: 1 };
}
