/**
 * Consistent hashing on a 32-bit circle. Every node contributes `multiply`
 * points, point `i` of node `id` at `murmur3("<id>-<i>")`; a key belongs to
 * the node owning the first point at or after `murmur3(key)`, wrapping
 * around. Equal points are ordered by node id, so every process that knows
 * the same nodes computes the same owner for every key.
 *
 * Immutable and persistent: a membership change makes a new ring with
 * {@link HashRing.withChanges} that shares the big sorted arrays (the
 * *base*) with the ring it came from. The new ring holds only what changed
 * since the base was built: the points of the nodes added since (the
 * *extra* layer, small and sorted) and which base nodes are gone (their
 * points are skipped). So one join or leave at 1000 nodes × 1000 points
 * writes the joiner's points and the extra layer, not a million points, and
 * every older ring a consumer still holds stays valid at the cost of its own
 * extra layer. Once the extra points and gone base points pass a
 * threshold, {@link HashRing.compacted} merges them into a new base (one
 * pass; the role map does it for at most one ring per change).
 */
import { Buffer } from "node:buffer";
import { murmur3 } from "./murmur3.js";
import { normalizeKey } from "./key.js";
import { DEFAULT_MULTIPLY } from "./options.js";
import { RingConfigError } from "./errors.js";

const TWO32 = 2 ** 32;
/** Points are sorted as `hash * SLOT_SPAN + slot` in one Float64Array: by hash, then by slot. */
const SLOT_SPAN = 1048576;
/** Extra and gone points a ring carries before it wants compaction: at least this many… */
const COMPACT_MIN_POINTS = 16_384;
/** …or this fraction of its base. */
const COMPACT_BASE_SHARE = 1 / 16;

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

/** Index of the first element of `pts` at or after `hash` (pts.length when none). */
function lowerBound(pts: Uint32Array, hash: number): number {
  let lo = 0;
  let hi = pts.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (pts[mid]! < hash) lo = mid + 1;
    else hi = mid;
  }
  return lo;
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

/** Sorted points with the slot owning each (parallel arrays). */
interface Layer {
  readonly points: Uint32Array;
  readonly owners: Uint32Array;
}

const EMPTY: Layer = { points: new Uint32Array(0), owners: new Uint32Array(0) };

/** What a ring is made of, for tests and diagnostics. */
export interface RingLayout {
  /** Points in the shared base, gone ones included. */
  readonly basePoints: number;
  /** Base points of nodes that are gone (skipped). */
  readonly gonePoints: number;
  /** Points of nodes added since the base was built. */
  readonly extraPoints: number;
  /** Points written into new arrays by the change (or build) that made this ring. */
  readonly written: number;
}

export class HashRing {
  /** Node ids, deduplicated and sorted by UTF-16 code units (`Array.prototype.sort`); frozen. */
  readonly nodes: readonly string[];
  readonly multiply: number;
  /** Sorted points shared with the rings this one was derived from or into. */
  private readonly base: Layer;
  /** Points of nodes added since the base was built, sorted by hash then node id. */
  private readonly extra: Layer;
  /** Node id per slot; `undefined` for a node that is gone (its base points are skipped). */
  private readonly slots: ReadonlyArray<string | undefined>;
  /** Slots below this own base points; the others own extra points. */
  private readonly baseSlots: number;
  /** Base points owned by gone slots. */
  private readonly gone: number;
  /** Slots of the gone base nodes. */
  private readonly goneSlots: readonly number[];
  private readonly written: number;

  constructor(nodeIds: Iterable<string>, multiply = DEFAULT_MULTIPLY) {
    if (!Number.isInteger(multiply) || multiply < 1) throw new RingConfigError(`multiply must be a positive integer, got ${multiply}`);
    const nodes = [...new Set(nodeIds)].sort();
    checkSize(nodes.length, multiply);
    this.nodes = Object.freeze(nodes);
    this.multiply = multiply;
    this.slots = nodes;
    this.baseSlots = nodes.length;
    this.gone = 0;
    this.goneSlots = [];
    this.extra = EMPTY;
    const n = nodes.length * multiply;
    const packed = pointsOf(nodes, multiply, (i) => i);
    const points = new Uint32Array(n);
    const owners = new Uint32Array(n);
    for (let i = 0; i < n; i++) {
      const v = packed[i]!;
      const slot = v % SLOT_SPAN;
      owners[i] = slot;
      points[i] = (v - slot) / SLOT_SPAN;
    }
    this.base = { points, owners };
    this.written = n;
  }

  /**
   * The ring with `add` joined and `remove` gone, equal point for point to
   * `new HashRing(resulting nodes)`, sharing this ring's base: removed base
   * nodes are marked gone, removed extra nodes' points are left out of the
   * new extra layer, and the added nodes' points are sorted and merged into
   * it. Cost: O(added points × log + extra points + nodes); no copy of the
   * base. Compacts on its own only far past the threshold
   * ({@link HashRing.compacted}).
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
    const slots = [...this.slots];
    let gone = this.gone;
    const goneSlots = [...this.goneSlots];
    let extraGone = false;
    for (const id of removing) {
      const slot = present.get(id)!;
      slots[slot] = undefined;
      if (slot < this.baseSlots) {
        gone += this.multiply;
        goneSlots.push(slot);
      } else extraGone = true;
    }
    // New nodes take new slots: a gone slot may still own base points.
    const added = [...adding].sort();
    const addSlots = added.map((id) => {
      slots.push(id);
      return slots.length - 1;
    });
    // The new extra layer: the old one without the removed nodes' points, the added nodes' points merged in (by hash, then id).
    const old = this.extra;
    const fresh = pointsOf(added, this.multiply, (i) => i);
    let kept = old.points.length;
    if (extraGone) {
      kept = 0;
      for (let i = 0; i < old.owners.length; i++) if (slots[old.owners[i]!] !== undefined) kept++;
    }
    const n = kept + fresh.length;
    const points = new Uint32Array(n);
    const owners = new Uint32Array(n);
    let out = 0;
    let i = 0;
    for (let j = 0; j < fresh.length; j++) {
      const v = fresh[j]!;
      const rank = v % SLOT_SPAN;
      const h = (v - rank) / SLOT_SPAN;
      const id = added[rank]!;
      for (; i < old.points.length; i++) {
        const p = old.points[i]!;
        const owner = old.owners[i]!;
        const oid = slots[owner];
        if (oid === undefined) continue;
        if (p > h || (p === h && oid > id)) break;
        points[out] = p;
        owners[out++] = owner;
      }
      points[out] = h;
      owners[out++] = addSlots[rank]!;
    }
    for (; i < old.points.length; i++) {
      const owner = old.owners[i]!;
      if (slots[owner] === undefined) continue;
      points[out] = old.points[i]!;
      owners[out++] = owner;
    }
    const ring = HashRing.assemble({ nodes, multiply: this.multiply, base: this.base, extra: { points, owners }, slots, baseSlots: this.baseSlots, gone, goneSlots, written: n });
    return ring.compactionDue() > 2 ? ring.compacted() : ring;
  }

  /**
   * How far this ring is past the point where it wants compaction: extra and
   * gone points, or unused slots, against their thresholds (over 1: due).
   */
  compactionDue(): number {
    const limit = Math.max(COMPACT_MIN_POINTS, this.base.points.length * COMPACT_BASE_SHARE);
    const unused = this.slots.length - this.nodes.length;
    return Math.max((this.extra.points.length + this.gone) / limit, unused / Math.max(64, this.nodes.length));
  }

  /**
   * The same ring with its extra layer merged into a new base and the gone
   * points left out, in one sequential pass over every point. Slot numbers
   * stay (a gone slot is never given to another node, so nothing can confuse
   * them) unless most slots are unused, then they are renumbered.
   */
  compacted(): HashRing {
    const renumbering = this.slots.length - this.nodes.length >= Math.max(64, this.nodes.length);
    if (this.extra.points.length === 0 && this.gone === 0 && !renumbering) return this;
    return this.merged();
  }

  /** The base without the gone points, with the extra layer merged in: a new compacted ring (one sequential pass). */
  private merged(): HashRing {
    const bp = this.base.points;
    const bo = this.base.owners;
    const ep = this.extra.points;
    const eo = this.extra.owners;
    const dead = new Uint8Array(this.baseSlots);
    for (const slot of this.goneSlots) dead[slot] = 1;
    const n = bp.length - this.gone + ep.length;
    // Every element is written below: skip the zero-fill of fresh typed arrays (megabytes at 1000 nodes).
    const points = uninitialized(n);
    const owners = uninitialized(n);
    let out = 0;
    let b = 0; // next base point not yet copied
    for (let j = 0; j <= ep.length; j++) {
      // Base points before this extra point: those with a smaller hash, or an equal hash and a smaller node id (a gone one is left out anyway).
      let end = bp.length;
      let h = 0;
      if (j < ep.length) {
        h = ep[j]!;
        const id = this.slots[eo[j]!]!;
        end = b;
        while (end < bp.length && bp[end]! < h) end++;
        while (end < bp.length && bp[end] === h && (this.slots[bo[end]!] ?? "") < id) end++;
      }
      // Runs are short (tens of points between two extra points): an element loop beats a block copy per run.
      for (; b < end; b++) {
        const owner = bo[b]!;
        if (dead[owner] === 1) continue;
        points[out] = bp[b]!;
        owners[out++] = owner;
      }
      if (j < ep.length) {
        points[out] = h;
        owners[out++] = eo[j]!;
      }
    }
    let slots = [...this.slots];
    if (this.slots.length - this.nodes.length >= Math.max(64, this.nodes.length)) {
      // Mostly unused slots: renumber to the rank of each node id.
      const rank = new Map(this.nodes.map((id, i) => [id, i]));
      const renumber = new Uint32Array(slots.length);
      slots.forEach((id, slot) => {
        if (id !== undefined) renumber[slot] = rank.get(id)!;
      });
      for (let i = 0; i < n; i++) owners[i] = renumber[owners[i]!]!;
      slots = [...this.nodes];
    }
    return HashRing.assemble({ nodes: [...this.nodes], multiply: this.multiply, base: { points, owners }, extra: EMPTY, slots, baseSlots: slots.length, gone: 0, goneSlots: [], written: n });
  }

  private static assemble(parts: {
    nodes: string[];
    multiply: number;
    base: Layer;
    extra: Layer;
    slots: Array<string | undefined>;
    baseSlots: number;
    gone: number;
    goneSlots: number[];
    written: number;
  }): HashRing {
    const ring = Object.create(HashRing.prototype) as { -readonly [K in keyof HashRing]: HashRing[K] } & Record<string, unknown>;
    ring.nodes = Object.freeze(parts.nodes);
    ring.multiply = parts.multiply;
    ring["base"] = parts.base;
    ring["extra"] = parts.extra;
    ring["slots"] = parts.slots;
    ring["baseSlots"] = parts.baseSlots;
    ring["gone"] = parts.gone;
    ring["goneSlots"] = parts.goneSlots;
    ring["written"] = parts.written;
    return ring as unknown as HashRing;
  }

  /** What this ring is made of (for tests and diagnostics). */
  layout(): RingLayout {
    return { basePoints: this.base.points.length, gonePoints: this.gone, extraPoints: this.extra.points.length, written: this.written };
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

  /** The first base index at or after `i` whose node is not gone (base length when none). */
  private liveBase(i: number): number {
    const { owners } = this.base;
    if (this.gone === 0) return i;
    while (i < owners.length && this.slots[owners[i]!] === undefined) i++;
    return i;
  }

  /** Live points in the ring. */
  private get livePoints(): number {
    return this.base.points.length - this.gone + this.extra.points.length;
  }

  /**
   * Visit the live points clockwise from the first at or after `hash`
   * (wrapping around), each once, until `visit` returns false.
   */
  private walk(hash: number, visit: (hash: number, slot: number) => boolean): void {
    const base = this.base;
    const extra = this.extra;
    const bl = base.points.length;
    const el = extra.points.length;
    let b = this.liveBase(lowerBound(base.points, hash));
    let e = lowerBound(extra.points, hash);
    for (let k = this.livePoints; k > 0; k--) {
      if (b === bl && e === el) {
        b = this.liveBase(0);
        e = 0;
      }
      let takeBase = e === el;
      if (!takeBase && b < bl) {
        const bh = base.points[b]!;
        const eh = extra.points[e]!;
        takeBase = bh < eh || (bh === eh && this.slots[base.owners[b]!]! < this.slots[extra.owners[e]!]!);
      }
      if (takeBase) {
        const go = visit(base.points[b]!, base.owners[b]!);
        b = this.liveBase(b + 1);
        if (!go) return;
      } else {
        const go = visit(extra.points[e]!, extra.owners[e]!);
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
    const pts = this.base.points;
    if (this.extra.points.length === 0 && this.gone === 0) {
      // A compacted ring: one binary search.
      if (pts.length === 0) return undefined;
      const i = lowerBound(pts, hash);
      return this.slots[this.base.owners[i === pts.length ? 0 : i]!];
    }
    let owner: number | undefined;
    this.walk(hash, (_, slot) => {
      owner = slot;
      return false;
    });
    return owner === undefined ? undefined : this.slots[owner];
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

  /** Fraction of the circle each node owns (sums to 1). */
  shares(): Map<string, number> {
    const acc = new Float64Array(this.slots.length);
    const n = this.livePoints;
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
    const out = new Map<string, number>();
    this.slots.forEach((id, slot) => {
      if (id !== undefined) out.set(id, n === 0 ? 0 : acc[slot]! / TWO32);
    });
    return new Map(this.nodes.map((id) => [id, out.get(id)!]));
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
