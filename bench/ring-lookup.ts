/**
 * In-process ring lookups (normalize + murmur3 + binary search) on a
 * 100-node ring with 1000 points per node, against a baseline of hashing the
 * same keys with node:crypto SHA-1 (what a naive implementation would use for
 * the hash alone). Also the time to build the ring for 1000 nodes.
 */
import { createHash } from "node:crypto";
import { HashRing } from "../src/overlay/index.js";
import type { BenchResult } from "./types.js";

const KEYS = Array.from({ length: 100_000 }, (_, i) => `user${i}@example.com`);
const DURATION_MS = 1500;

function rate(fn: (key: string) => unknown): number {
  let n = 0;
  const start = performance.now();
  let sink = 0;
  while (performance.now() - start < DURATION_MS) {
    for (let i = 0; i < 10_000; i++) {
      const r = fn(KEYS[(n + i) % KEYS.length]!);
      if (r) sink++;
    }
    n += 10_000;
  }
  if (sink < 0) throw new Error("unreachable");
  return n / ((performance.now() - start) / 1000);
}

export async function run(): Promise<BenchResult[]> {
  const ips = Array.from({ length: 100 }, (_, i) => `10.0.${i >> 8}.${(i & 255) + 1}`);
  const ring = new HashRing(ips);
  rate((k) => ring.lookup(k)); // warm-up
  const lookups = rate((k) => ring.lookup(k));
  const sha1 = rate((k) => createHash("sha1").update(k).digest().readUInt32BE(0));
  const t0 = performance.now();
  new HashRing(Array.from({ length: 1000 }, (_, i) => `10.1.${i >> 8}.${(i & 255) + 1}`));
  const build = performance.now() - t0;
  return [
    { name: "ring lookup, 100 nodes × 1000 points", value: lookups, unit: "lookups/s", baseline: { name: "SHA-1 of the key alone", value: sha1 } },
    { name: "ring build, 1000 nodes × 1000 points", value: build, unit: "ms", note: "once per membership change" },
  ];
}
