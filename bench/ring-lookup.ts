/**
 * In-process ring lookups (normalize + murmur3 + binary search) on a
 * 100-node ring with 1000 points per node, against a baseline of hashing the
 * same keys with node:crypto SHA-1 alone (what a naive implementation would
 * pay for the hash only). Also the time to build a 1000-node ring and the
 * load spread (`ringSpread`, the figures of docs/ring.md). About 3 s.
 */
import { createHash } from "node:crypto";
import { HashRing, ringSpread } from "../src/overlay/index.js";
import type { BenchResult } from "./types.js";

const KEYS = Array.from({ length: 100_000 }, (_, i) => `user${i}@example.com`);
const DURATION_MS = 1000;

/** Calls per second of `fn` over KEYS, measured for DURATION_MS. */
function rate(fn: (key: string) => unknown, durationMs = DURATION_MS): number {
  let n = 0;
  let sink = 0;
  const start = performance.now();
  while (performance.now() - start < durationMs) {
    for (let i = 0; i < 10_000; i++) if (fn(KEYS[(n + i) % KEYS.length]!)) sink++;
    n += 10_000;
  }
  const secs = (performance.now() - start) / 1000;
  if (sink < 0) throw new Error("unreachable");
  return n / secs;
}

const ips = (n: number, base: string) => Array.from({ length: n }, (_, i) => `${base}.${i >> 8}.${(i & 255) + 1}`);

export async function run(): Promise<BenchResult[]> {
  const ring = new HashRing(ips(100, "10.0"));
  const sha1 = (k: string) => createHash("sha1").update(k).digest().readUInt32BE(0);
  rate((k) => ring.lookup(k), 300); // warm-up
  rate(sha1, 300);
  const lookups = rate((k) => ring.lookup(k));
  const hashes = rate(sha1);
  const t0 = performance.now();
  new HashRing(ips(1000, "10.1"));
  const build = performance.now() - t0;
  const s100 = ringSpread(100);
  const s1000 = ringSpread(1000);
  return [
    { name: "ring lookup, 100 nodes × 1000 points", value: lookups, unit: "lookups/s", baseline: { name: "SHA-1 of the key alone", value: hashes }, note: "normalize + murmur3 + binary search" },
    { name: "ring build, 1000 nodes × 1000 points", value: build, unit: "ms", note: "once per membership change" },
    { name: "ring spread, 100 nodes: max share / mean", value: s100.maxOverMean, unit: "", note: `min/mean ${s100.minOverMean.toFixed(3)}` },
    { name: "ring spread, 1000 nodes: max share / mean", value: s1000.maxOverMean, unit: "", note: `min/mean ${s1000.minOverMean.toFixed(3)}` },
  ];
}
