/**
 * The control link's frame decoder (src/node/control/codec.ts) reassembling
 * a frame of the maximum size (8 MiB) from TLS-record-sized chunks (16 KiB,
 * 513 pushes), against the same frame pushed whole in the same run: the
 * chunks are joined once, when the frame is complete, so the ratio stays
 * near 1 (joining on every push copied ~2 GiB, about 20×). Best of five.
 * The test (test/node/control-codec.test.ts) checks the single join by
 * counting the bytes joined; this is its timing. About 1 s.
 */
import { ControlDecoder, DEFAULT_MAX_CONTROL_FRAME, encodeControlFrame } from "../src/node/index.js";
import type { BenchResult } from "./types.js";

/** Best of `runs`, in ms: the decoder fed `chunk` bytes at a time. */
function best(wire: Buffer, chunk: number, runs = 5): number {
  let min = Infinity;
  for (let run = 0; run < runs; run++) {
    const d = new ControlDecoder();
    const t0 = performance.now();
    let frames = 0;
    for (let i = 0; i < wire.length; i += chunk) frames += d.push(wire.subarray(i, i + chunk)).length;
    min = Math.min(min, performance.now() - t0);
    if (frames !== 1) throw new Error(`decoded ${frames} frames, not 1`);
  }
  return min;
}

export async function run(): Promise<BenchResult[]> {
  const wire = encodeControlFrame({ q: 1, m: "ring.handover", p: "a".repeat(DEFAULT_MAX_CONTROL_FRAME - 100) });
  const whole = best(wire, wire.length);
  const records = best(wire, 16 * 1024);
  return [{ name: "control frame of 8 MiB in 16 KiB chunks", value: records, unit: "ms", baseline: { name: "the same frame in one chunk", value: whole }, note: "one join when complete, best of 5" }];
}
