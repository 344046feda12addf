/**
 * Consistent hashing on a 32-bit circle. Every node contributes `multiply`
 * points, point `i` of node `id` at `murmur3("<id>-<i>")`; a key belongs to
 * the node owning the first point at or after `murmur3(key)`, wrapping
 * around. Equal points are ordered by node id, so every process that knows
 * the same nodes computes the same owner for every key. Immutable: a
 * membership change makes a new ring, either built from scratch (about
 * 0.2 s for 1000 nodes × 1000) or derived from the previous one with
 * {@link HashRing.withChanges} (a few milliseconds for one join or leave).
 */
import { Buffer } from "node:buffer";
import { murmur3 } from "./murmur3.js";
import { normalizeKey } from "./key.js";
import { DEFAULT_MULTIPLY } from "./options.js";
import { RingConfigError } from "./errors.js";

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

function uninitialized(length: number): Uint32Array {
  return new Uint32Array(Buffer.allocUnsafeSlow(length * 4).buffer, 0, length);
}

/** `sorted` without `remove`, with `add` (sorted, disjoint) merged in. */
function mergeSorted(sorted: readonly string[], remove: ReadonlySet<string>, add: readonly string[]): string[] {
  const out: string[] = [];
  let j = 0;
  for (const id of sorted) {
    if (remove.has(id)) continue;
    while (j < add.length && add[j]! < id) out.push(add[j++]!);
    out.push(id);
  }
  while (j < add.length) out.push(add[j++]!);
  return out;
}

export class HashRing {
  /** Node ids, deduplicated and sorted by UTF-16 code units (`Array.prototype.sort`); frozen. */
  readonly nodes: readonly string[];
  readonly multiply: number;
  private readonly points: Uint32Array;
  /** Slot of the node owning each point (an index into `slots`). */
  private readonly owners: Uint32Array;
  /** Node id per slot; a slot freed by a removal is `undefined` until a later change reuses it. */
  private readonly slots: ReadonlyArray<string | undefined>;

  constructor(nodeIds: Iterable<string>, multiply = DEFAULT_MULTIPLY) {
    if (!Number.isInteger(multiply) || multiply < 1) throw new RingConfigError(`multiply must be a positive integer, got ${multiply}`);
    const nodes = [...new Set(nodeIds)].sort();
    checkSize(nodes.length, multiply);
    this.nodes = Object.freeze(nodes);
    this.multiply = multiply;
    this.slots = nodes;
    const n = nodes.length * multiply;
    const packed = pointsOf(nodes, multiply, (i) => i);
    this.points = new Uint32Array(n);
    this.owners = new Uint32Array(n);
    for (let i = 0; i < n; i++) {
      const v = packed[i]!;
      const slot = v % SLOT_SPAN;
      this.owners[i] = slot;
      this.points[i] = (v - slot) / SLOT_SPAN;
    }
  }

  /**
   * The ring with `add` joined and `remove` gone, equal point for point to
   * `new HashRing(resulting nodes)`, without rebuilding: the points of the
   * removed nodes are found by their hashes and cut out, the new nodes'
   * points are sorted and merged in, and the unchanged runs between them are
   * copied as blocks. Cost: O(changed points × log points) plus one copy of
   * the arrays, instead of hashing and sorting every point again.
   */
  withChanges(add: Iterable<string>, remove: Iterable<string>): HashRing {
    const present = new Map<string, number>();
    this.slots.forEach((id, slot) => {
      if (id !== undefined) present.set(id, slot);
    });
    const removing = new Set<string>();
    for (const id of remove) if (present.has(id)) removing.add(id);
    const adding = new Set<string>();
    for (const id of add) {
      if (removing.delete(id)) continue; // removed and added again: unchanged
      if (!present.has(id)) adding.add(id);
    }
    if (removing.size === 0 && adding.size === 0) return this;
    const nodes = mergeSorted(this.nodes, removing, [...adding].sort());
    checkSize(nodes.length, this.multiply);
    // Slots: removed ones become holes; new nodes take holes that existed before this change, then new slots.
    const slots = [...this.slots];
    const freeBefore: number[] = [];
    slots.forEach((id, slot) => {
      if (id === undefined) freeBefore.push(slot);
    });
    for (const id of removing) slots[present.get(id)!] = undefined;
    const added = [...adding].sort();
    const addSlots = added.map((id) => {
      const slot = freeBefore.pop() ?? slots.length;
      slots[slot] = id;
      return slot;
    });
    const holes = slots.length - nodes.length;
    if (holes > 64 && holes > nodes.length) return new HashRing(nodes, this.multiply); // mostly holes: renumber once
    // Indices of the removed points, ascending.
    const cut = new Int32Array(removing.size * this.multiply);
    let c = 0;
    for (const id of removing) {
      const slot = present.get(id)!;
      const prefix = `${id}-`;
      const hashes = new Uint32Array(this.multiply);
      for (let i = 0; i < this.multiply; i++) hashes[i] = murmur3(prefix + i);
      hashes.sort();
      let prevHash = -1;
      let prevAt = -1;
      for (const h of hashes) {
        // The point exists, among the points of equal hash; a node's own repeated hash is the next one.
        let k = h === prevHash ? prevAt + 1 : this.lowerBound(h);
        while (this.owners[k] !== slot) k++;
        cut[c++] = k;
        prevHash = h;
        prevAt = k;
      }
    }
    cut.sort();
    // The new points, ordered by hash then node id (rank among the added nodes, which are sorted).
    const fresh = pointsOf(added, this.multiply, (i) => i);
    const n = this.points.length - cut.length + fresh.length;
    // Every element is written below: skip the zero-fill of fresh typed arrays (megabytes at 1000 nodes).
    const points = uninitialized(n);
    const owners = uninitialized(n);
    let out = 0;
    let from = 0; // next old point not yet copied
    let nextCut = 0;
    const copyUpTo = (end: number) => {
      while (from < end) {
        const stop = nextCut < cut.length && cut[nextCut]! < end ? cut[nextCut]! : end;
        points.set(this.points.subarray(from, stop), out);
        owners.set(this.owners.subarray(from, stop), out);
        out += stop - from;
        from = stop;
        if (from < end && from === cut[nextCut]) {
          from++;
          nextCut++;
        }
      }
    };
    for (let j = 0; j < fresh.length; j++) {
      const v = fresh[j]!;
      const rank = v % SLOT_SPAN;
      const h = (v - rank) / SLOT_SPAN;
      const id = added[rank]!;
      // Insert before the first old point with a greater hash, or an equal hash of a greater node id.
      let k = Math.max(this.lowerBound(h), from);
      while (k < this.points.length && this.points[k] === h && (this.slots[this.owners[k]!] ?? "") < id) k++;
      copyUpTo(k);
      points[out] = h;
      owners[out] = addSlots[rank]!;
      out++;
    }
    copyUpTo(this.points.length);
    return HashRing.assemble(nodes, this.multiply, points, owners, slots);
  }

  private static assemble(nodes: string[], multiply: number, points: Uint32Array, owners: Uint32Array, slots: Array<string | undefined>): HashRing {
    const ring = Object.create(HashRing.prototype) as { -readonly [K in keyof HashRing]: HashRing[K] } & Record<string, unknown>;
    ring.nodes = Object.freeze(nodes);
    ring.multiply = multiply;
    ring["points"] = points;
    ring["owners"] = owners;
    ring["slots"] = slots;
    return ring as unknown as HashRing;
  }

  /** Every point as `[hash, node id]` in ring order (for tests and diagnostics; allocates). */
  entries(): Array<[number, string]> {
    return Array.from(this.points, (p, i) => [p, this.slots[this.owners[i]!]!]);
  }

  /** Index of the first point at or after `hash` (points.length when none). */
  private lowerBound(hash: number): number {
    const pts = this.points;
    let lo = 0;
    let hi = pts.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (pts[mid]! < hash) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  get size(): number {
    return this.nodes.length;
  }

  /** Index of the first point at or after `hash` (wrapping to 0). */
  private indexOf(hash: number): number {
    const i = this.lowerBound(hash);
    return i === this.points.length ? 0 : i;
  }

  /** Owner of the point at or after `hash` (a murmur3 value), or undefined on an empty ring. */
  ownerOfHash(hash: number): string | undefined {
    if (this.points.length === 0) return undefined;
    return this.slots[this.owners[this.indexOf(hash)]!];
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
    if (this.points.length === 0 || count <= 0) return [];
    const norm = normalizeKey(key);
    const start = this.indexOf(murmur3(norm.ok ? norm.key : key));
    const out: string[] = [];
    const seen = new Set<number>();
    const want = Math.min(count, this.nodes.length);
    for (let k = 0; k < this.points.length && out.length < want; k++) {
      const owner = this.owners[(start + k) % this.points.length]!;
      if (!seen.has(owner)) {
        seen.add(owner);
        out.push(this.slots[owner]!);
      }
    }
    return out;
  }

  /** Fraction of the circle each node owns (sums to 1). */
  shares(): Map<string, number> {
    const acc = new Float64Array(this.slots.length);
    const pts = this.points;
    const n = pts.length;
    for (let i = 0; i < n; i++) {
      const prev = i === 0 ? pts[n - 1]! - TWO32 : pts[i - 1]!;
      acc[this.owners[i]!]! += pts[i]! - prev;
    }
    const out = new Map<string, number>();
    const slotOf = new Map<string, number>();
    this.slots.forEach((id, slot) => {
      if (id !== undefined) slotOf.set(id, slot);
    });
    for (const id of this.nodes) out.set(id, n === 0 ? 0 : acc[slotOf.get(id)!]! / TWO32);
    return out;
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
