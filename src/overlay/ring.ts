/**
 * Consistent hashing on a 32-bit circle. Every node contributes `multiply`
 * points, point `i` of node `id` at `murmur3("<id>-<i>")`; a key belongs to
 * the node owning the first point at or after `murmur3(key)`, wrapping
 * around. Equal points are ordered by node id, so every process that knows
 * the same nodes computes the same owner for every key.
 *
 * Immutable and persistent (docs/ring.md, "Changes"): a ring is a *base* of
 * sorted points cut by hash range into chunks, plus a small sorted *extra*
 * layer with the points of nodes added since, and the base points of nodes
 * that left are skipped until their chunk is rewritten. A change
 * ({@link HashRing.withChanges}) writes the new extra layer and rewrites one
 * chunk (the next in a sweep around the circle, taking in the extra points
 * of its range and leaving out the gone ones); every other chunk is shared
 * with the ring it came from. So a join at 1000 nodes × 1000 points writes
 * tens of thousands of points, not a million, and an older ring a consumer
 * still holds stays valid at the cost of what changed since.
 */
import { murmur3 } from "./murmur3.js";
import { normalizeKey } from "./key.js";
import { DEFAULT_MULTIPLY } from "./options.js";
import { RingConfigError } from "./errors.js";
import { chunkTarget, cutChunks, EMPTY_LAYER, lowerBound, mergeExtra, rewriteChunk, type Base, type Layer } from "./ring-layers.js";

const TWO32 = 2 ** 32;
/** Points are sorted as `hash * SLOT_SPAN + slot` in one Float64Array: by hash, then by slot. */
const SLOT_SPAN = 1048576;

function checkSize(nodes: number, multiply: number): void {
  if (nodes >= SLOT_SPAN) throw new RingConfigError(`too many nodes for one ring (${nodes}, limit ${SLOT_SPAN - 1})`);
  if (nodes * multiply > 2 ** 28) throw new RingConfigError(`too many points for one ring (${nodes} × ${multiply})`);
}

/** The points of `ids` (sorted), packed as hash × SLOT_SPAN + slotOf(index) and sorted: by hash, then by node id. */
function pointsOf(ids: readonly string[], multiply: number, slotOf: (index: number) => number): Float64Array {
  const packed = new Float64Array(ids.length * multiply);
  let p = 0;
  for (let ni = 0; ni < ids.length; ni++) {
    const prefix = `${ids[ni]}-`;
    const slot = slotOf(ni);
    for (let i = 0; i < multiply; i++) packed[p++] = murmur3(prefix + i) * SLOT_SPAN + slot;
  }
  return packed.sort();
}

/** Packed points split into parallel hash and owner arrays, owners mapped by `slotOf`. */
function unpack(packed: Float64Array, slotOf: (rank: number) => number): Layer {
  const n = packed.length;
  const points = new Uint32Array(n);
  const owners = new Uint32Array(n);
  for (let i = 0; i < n; i++) {
    const v = packed[i]!;
    const rank = v % SLOT_SPAN;
    owners[i] = slotOf(rank);
    points[i] = (v - rank) / SLOT_SPAN;
  }
  return { points, owners };
}

/** What a ring is made of, for tests and diagnostics. */
export interface RingLayout {
  /** Chunks of the base. */
  readonly chunks: number;
  /** Points in the base, gone ones included. */
  readonly basePoints: number;
  /** Base points of nodes that left (skipped until their chunk is rewritten). */
  readonly gonePoints: number;
  /** Points of nodes added since their range of the base was last rewritten. */
  readonly extraPoints: number;
  /** Points written into new arrays by the change (or build) that made this ring. */
  readonly written: number;
}

/** A slot whose node left, and the sweep during which it did. */
interface GoneSlot {
  readonly slot: number;
  readonly sweep: number;
}

interface RingParts {
  nodes: string[];
  nodeSlots: Uint32Array;
  multiply: number;
  base: Base;
  extra: Layer;
  slots: Array<string | undefined>;
  gone: number;
  goneSlots: GoneSlot[];
  free: number[];
  cursor: number;
  sweeps: number;
  written: number;
}

export class HashRing {
  /** Node ids, deduplicated and sorted by UTF-16 code units (`Array.prototype.sort`); frozen. */
  readonly nodes: readonly string[];
  readonly multiply: number;
  /** Slot of each node in `nodes` (parallel). */
  private readonly nodeSlots: Uint32Array;
  /** Sorted points in chunks by hash range, shared (chunk by chunk) with the rings this one was derived from or into. */
  private readonly base: Base;
  /** Points of nodes added since their range of the base was last rewritten, sorted by hash then node id. */
  private readonly extra: Layer;
  /** Node id per slot; `undefined` for a node that left (its base points are skipped) or a free slot. */
  private readonly slots: ReadonlyArray<string | undefined>;
  /** Base points owned by slots whose node left. */
  private readonly gone: number;
  /** Slots whose node left and whose points may still be in the base. */
  private readonly goneSlots: readonly GoneSlot[];
  /** Slots no point refers to any more (a whole sweep passed since their node left): given to new nodes first. */
  private readonly free: readonly number[];
  /** The chunk the next change rewrites. */
  private readonly cursor: number;
  /** Completed sweeps around the circle. */
  private readonly sweeps: number;
  private readonly written: number;
  private sharesMemo: Map<string, number> | undefined;

  constructor(nodeIds: Iterable<string>, multiply = DEFAULT_MULTIPLY) {
    if (!Number.isInteger(multiply) || multiply < 1) throw new RingConfigError(`multiply must be a positive integer, got ${multiply}`);
    const nodes = [...new Set(nodeIds)].sort();
    checkSize(nodes.length, multiply);
    this.nodes = Object.freeze(nodes);
    this.multiply = multiply;
    this.slots = nodes;
    this.nodeSlots = Uint32Array.from(nodes, (_, i) => i);
    const all = unpack(pointsOf(nodes, multiply, (i) => i), (rank) => rank);
    this.base = cutChunks(all, chunkTarget(all.points.length, multiply));
    this.extra = EMPTY_LAYER;
    this.gone = 0;
    this.goneSlots = [];
    this.free = [];
    this.cursor = 0;
    this.sweeps = 0;
    this.written = all.points.length;
  }

  /**
   * The ring with `add` joined and `remove` gone, equal point for point to
   * `new HashRing(resulting nodes)`. The removed nodes' base points are
   * skipped from now on and their extra points left out; the added nodes'
   * points are sorted and merged into the extra layer; then the next chunk
   * of the sweep is rewritten with the extra points of its range and
   * without its gone points. Cost: O(added points × log + extra points +
   * one chunk + nodes), about √(points × multiply) each.
   */
  withChanges(add: Iterable<string>, remove: Iterable<string>): HashRing {
    const removing = new Set<string>();
    for (const id of remove) if (this.slotOf(id) !== undefined) removing.add(id);
    const adding = new Set<string>();
    for (const id of add) {
      if (removing.delete(id)) continue; // removed and added again: unchanged
      if (this.slotOf(id) === undefined) adding.add(id);
    }
    if (removing.size === 0 && adding.size === 0) return this;
    const added = [...adding].sort();
    checkSize(this.nodes.length - removing.size + added.length, this.multiply);
    const slots = [...this.slots];
    // Slots whose node left before the last sweep began are in no chunk any more: free again.
    const free = [...this.free];
    const goneSlots: GoneSlot[] = [];
    for (const g of this.goneSlots) {
      if (this.sweeps >= g.sweep + 2) free.push(g.slot);
      else goneSlots.push(g);
    }
    for (const id of removing) {
      const slot = this.slotOf(id)!;
      slots[slot] = undefined;
      goneSlots.push({ slot, sweep: this.sweeps });
    }
    const addSlots = added.map((id) => {
      const slot = free.pop() ?? slots.length;
      slots[slot] = id;
      return slot;
    });
    // The node list and each node's slot, merged in id order.
    const nodes: string[] = [];
    const nodeSlots = new Uint32Array(this.nodes.length - removing.size + added.length);
    let j = 0;
    this.nodes.forEach((id, i) => {
      if (removing.has(id)) return;
      while (j < added.length && added[j]! < id) {
        nodeSlots[nodes.length] = addSlots[j]!;
        nodes.push(added[j++]!);
      }
      nodeSlots[nodes.length] = this.nodeSlots[i]!;
      nodes.push(id);
    });
    for (; j < added.length; j++) {
      nodeSlots[nodes.length] = addSlots[j]!;
      nodes.push(added[j]!);
    }
    const fresh = unpack(pointsOf(added, this.multiply, (i) => i), (rank) => addSlots[rank]!);
    const merged = mergeExtra(this.extra, fresh, slots);
    // Points of the removed nodes that were not in the extra layer are in the base: gone until their chunk is rewritten.
    let gone = this.gone + removing.size * this.multiply - merged.dropped;
    let cursor = this.cursor;
    let sweeps = this.sweeps;
    if (cursor >= this.base.chunks.length) {
      cursor = 0;
      sweeps++;
    }
    const step = rewriteChunk(this.base, cursor, merged.layer, slots, chunkTarget(this.base.size - gone + merged.layer.points.length, this.multiply));
    gone -= step.dropped;
    return HashRing.assemble({
      nodes,
      nodeSlots,
      multiply: this.multiply,
      base: step.base,
      extra: step.extra,
      slots,
      gone,
      goneSlots,
      free,
      cursor: cursor + step.chunks,
      sweeps,
      written: merged.layer.points.length + step.written,
    });
  }

  /** The same ring with every chunk rewritten: no extra layer, no gone points (one pass over every point). */
  compacted(): HashRing {
    if (this.extra.points.length === 0 && this.gone === 0) return this;
    let base = this.base;
    let extra = this.extra;
    let written = 0;
    const target = chunkTarget(this.base.size - this.gone + extra.points.length, this.multiply);
    for (let c = 0; c < base.chunks.length; ) {
      const step = rewriteChunk(base, c, extra, this.slots, target);
      base = step.base;
      extra = step.extra;
      written += step.written;
      c += step.chunks;
    }
    return HashRing.assemble({
      nodes: [...this.nodes],
      nodeSlots: this.nodeSlots,
      multiply: this.multiply,
      base,
      extra,
      slots: [...this.slots],
      gone: 0,
      goneSlots: [],
      free: [...this.free, ...this.goneSlots.map((g) => g.slot)],
      cursor: 0,
      sweeps: this.sweeps + 1,
      written,
    });
  }

  private static assemble(parts: RingParts): HashRing {
    const ring = Object.create(HashRing.prototype) as { -readonly [K in keyof HashRing]: HashRing[K] } & Record<string, unknown>;
    ring.nodes = Object.freeze(parts.nodes);
    ring.multiply = parts.multiply;
    for (const key of ["nodeSlots", "base", "extra", "slots", "gone", "goneSlots", "free", "cursor", "sweeps", "written"] as const) ring[key] = parts[key];
    return ring as unknown as HashRing;
  }

  /** The slot of node `id` (a binary search in `nodes`), or undefined when it is not on the ring. */
  private slotOf(id: string): number | undefined {
    const nodes = this.nodes;
    let lo = 0;
    let hi = nodes.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (nodes[mid]! < id) lo = mid + 1;
      else hi = mid;
    }
    return nodes[lo] === id ? this.nodeSlots[lo] : undefined;
  }

  /** What this ring is made of (for tests and diagnostics). */
  layout(): RingLayout {
    return { chunks: this.base.chunks.length, basePoints: this.base.size, gonePoints: this.gone, extraPoints: this.extra.points.length, written: this.written };
  }

  /** Every point as `[hash, node id]` in ring order (for tests and diagnostics; allocates). */
  entries(): Array<[number, string]> {
    const out: Array<[number, string]> = [];
    this.walk(0, (h, slot) => {
      out.push([h, this.slots[slot]!]);
      return true;
    });
    return out;
  }

  /** Live points in the ring. */
  private get livePoints(): number {
    return this.base.size - this.gone + this.extra.points.length;
  }

  /**
   * Visit the live points clockwise from the first at or after `hash`
   * (wrapping around), each once, until `visit` returns false.
   */
  private walk(hash: number, visit: (hash: number, slot: number) => boolean): void {
    const { chunks } = this.base;
    const slots = this.slots;
    const skipGone = this.gone > 0;
    const ep = this.extra.points;
    const eo = this.extra.owners;
    let c = this.base.chunkOf(hash);
    let i = lowerBound(chunks[c]!.points, hash);
    let e = lowerBound(ep, hash);
    let wrapped = false;
    for (let k = this.livePoints; k > 0; k--) {
      // The next live base point at or after (c, i), if any.
      for (;;) {
        if (c === chunks.length) break;
        const ch = chunks[c]!;
        if (skipGone) while (i < ch.points.length && slots[ch.owners[i]!] === undefined) i++;
        if (i < ch.points.length) break;
        c++;
        i = 0;
      }
      if (c === chunks.length && e === ep.length) {
        // Past the last point: wrap around (the loop above finds the first live base point), once.
        if (wrapped) return;
        wrapped = true;
        c = 0;
        i = 0;
        e = 0;
        k++;
        continue;
      }
      let fromBase = e === ep.length;
      if (!fromBase && c < chunks.length) {
        const ch = chunks[c]!;
        const bh = ch.points[i]!;
        const eh = ep[e]!;
        fromBase = bh < eh || (bh === eh && slots[ch.owners[i]!]! < slots[eo[e]!]!);
      }
      if (fromBase) {
        const ch = chunks[c]!;
        const go = visit(ch.points[i]!, ch.owners[i]!);
        i++;
        if (!go) return;
      } else {
        const go = visit(ep[e]!, eo[e]!);
        e++;
        if (!go) return;
      }
    }
  }

  get size(): number {
    return this.nodes.length;
  }

  /** Owner of the point at or after `hash` (a murmur3 value), or undefined on an empty ring. */
  ownerOfHash(hash: number): string | undefined {
    // The walk's first step, without a callback (this is the hot path of every lookup).
    const { chunks } = this.base;
    const slots = this.slots;
    const ep = this.extra.points;
    let c = this.base.chunkOf(hash);
    let i = lowerBound(chunks[c]!.points, hash);
    let e = lowerBound(ep, hash);
    for (let wrapped = false; ; wrapped = true) {
      for (; c < chunks.length; c++, i = 0) {
        const ch = chunks[c]!;
        if (this.gone > 0) while (i < ch.points.length && slots[ch.owners[i]!] === undefined) i++;
        if (i < ch.points.length) break;
      }
      if (c < chunks.length || e < ep.length) break;
      if (wrapped) return undefined; // no live point at all
      c = 0;
      i = 0;
      e = 0;
    }
    if (e === ep.length) return slots[chunks[c]!.owners[i]!];
    if (c === chunks.length) return slots[this.extra.owners[e]!];
    const ch = chunks[c]!;
    const bh = ch.points[i]!;
    const eh = ep[e]!;
    const bo = slots[ch.owners[i]!]!;
    const eo = slots[this.extra.owners[e]!]!;
    return bh < eh || (bh === eh && bo < eo) ? bo : eo;
  }

  /**
   * Owner of `key`: the node of the first point at or after
   * `murmur3(normalizeKey(key))`, wrapping around; undefined on an empty ring.
   * A key that does not normalize is hashed as given.
   */
  lookup(key: string): string | undefined {
    const norm = normalizeKey(key);
    return this.ownerOfHash(murmur3(norm.ok ? norm.key : key));
  }

  /** The first `count` distinct nodes clockwise from the key: owner, then replicas. */
  successors(key: string, count: number): string[] {
    if (this.livePoints === 0 || count <= 0) return [];
    const norm = normalizeKey(key);
    const out: string[] = [];
    const seen = new Set<number>();
    const want = Math.min(count, this.nodes.length);
    this.walk(murmur3(norm.ok ? norm.key : key), (_, slot) => {
      if (!seen.has(slot)) {
        seen.add(slot);
        out.push(this.slots[slot]!);
      }
      return out.length < want;
    });
    return out;
  }

  /**
   * Fraction of the circle one node owns, equal to `shares().get(id)`
   * (0 for a node not on the ring), from that node's own points: for each,
   * the arc back to the previous point. O(multiply × log points), not a
   * walk around the whole circle.
   */
  shareOf(id: string): number {
    if (this.slotOf(id) === undefined || this.livePoints === 0) return 0;
    const hashes = new Uint32Array(this.multiply);
    const prefix = `${id}-`;
    for (let i = 0; i < this.multiply; i++) hashes[i] = murmur3(prefix + i);
    hashes.sort();
    let sum = 0;
    let prev = -1;
    for (const h of hashes) {
      // A repeated point of its own, or an equal point of a node ordered before it, owns no arc.
      if (h === prev) continue;
      prev = h;
      if (this.tiedBefore(h, id)) continue;
      sum += h - this.hashBefore(h);
    }
    return sum / TWO32;
  }

  /** Whether a live point at `hash` belongs to a node ordered before `id`. */
  private tiedBefore(hash: number, id: string): boolean {
    const { chunks } = this.base;
    const slots = this.slots;
    const ch = chunks[this.base.chunkOf(hash)]!;
    for (let i = lowerBound(ch.points, hash); i < ch.points.length && ch.points[i] === hash; i++) {
      const owner = slots[ch.owners[i]!];
      if (owner !== undefined && owner < id) return true;
    }
    const ep = this.extra.points;
    for (let e = lowerBound(ep, hash); e < ep.length && ep[e] === hash; e++) if (slots[this.extra.owners[e]!]! < id) return true;
    return false;
  }

  /** The greatest live point below `hash`, or, when there is none, the greatest of all minus 2³² (the arc wraps). */
  private hashBefore(hash: number): number {
    const { chunks } = this.base;
    const slots = this.slots;
    const lastLiveBase = (c: number, i: number): number => {
      for (; c >= 0; c--, i = c >= 0 ? chunks[c]!.points.length - 1 : 0) {
        const ch = chunks[c]!;
        for (; i >= 0; i--) if (this.gone === 0 || slots[ch.owners[i]!] !== undefined) return ch.points[i]!;
      }
      return -1;
    };
    const c = this.base.chunkOf(hash);
    const ep = this.extra.points;
    const best = Math.max(lastLiveBase(c, lowerBound(chunks[c]!.points, hash) - 1), lowerBound(ep, hash) > 0 ? ep[lowerBound(ep, hash) - 1]! : -1);
    if (best >= 0) return best;
    const lastChunk = chunks.length - 1;
    return Math.max(lastLiveBase(lastChunk, chunks[lastChunk]!.points.length - 1), ep.length > 0 ? ep[ep.length - 1]! : -1) - TWO32;
  }

  /** Fraction of the circle each node owns (sums to 1); computed once per ring. */
  shares(): Map<string, number> {
    if (!this.sharesMemo) {
      const acc = new Float64Array(this.slots.length);
      let first = -1;
      let firstSlot = 0;
      let prev = 0;
      this.walk(0, (h, slot) => {
        if (first < 0) {
          first = h;
          firstSlot = slot;
        } else acc[slot]! += h - prev;
        prev = h;
        return true;
      });
      if (first >= 0) acc[firstSlot]! += first + TWO32 - prev;
      const bySlot = new Map<string, number>();
      this.slots.forEach((id, slot) => {
        if (id !== undefined) bySlot.set(id, acc[slot]! / TWO32);
      });
      this.sharesMemo = new Map(this.nodes.map((id) => [id, bySlot.get(id)!]));
    }
    return new Map(this.sharesMemo);
  }
}

export interface RingSpread {
  nodes: number;
  multiply: number;
  /** Largest share / mean share. */
  maxOverMean: number;
  /** Smallest share / mean share. */
  minOverMean: number;
}

/** Load spread of a ring of `nodeCount` nodes with addresses 10.x.y.z. */
export function ringSpread(nodeCount: number, multiply = DEFAULT_MULTIPLY): RingSpread {
  const ids = Array.from({ length: nodeCount }, (_, i) => `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${(i & 255) + 1}`);
  const shares = [...new HashRing(ids, multiply).shares().values()];
  const mean = 1 / nodeCount;
  return { nodes: nodeCount, multiply, maxOverMean: Math.max(...shares) / mean, minOverMean: Math.min(...shares) / mean };
}
