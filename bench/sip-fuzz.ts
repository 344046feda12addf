/**
 * The long SIP fuzz run (issue 10): one million mutated SIP messages (RFC
 * 4475 torture corpus and our SIPp scenarios' messages, mutated by
 * test/support/sip-fuzz.ts) against a running node over UDP and TCP. The
 * figures: messages taken, CPU cost per message (median, p99, max; a
 * message first measured over 10 ms is replayed three times and counts as
 * slow only when every replay is), memory before and after (after a full
 * GC), uncaught errors. `THOR_FUZZ_MESSAGES` changes the count.
 */
import { runFuzz } from "../test/support/fuzz-run.js";
import type { BenchResult } from "./types.js";

export async function run(): Promise<BenchResult[]> {
  const messages = Number(process.env["THOR_FUZZ_MESSAGES"] ?? 1_000_000);
  let last = 0;
  const r = await runFuzz({
    messages,
    ip: "127.0.110.60",
    seed: 1_000_000,
    deadlineMs: 3_600_000,
    onProgress: (done) => {
      if (done - last >= 100_000) {
        last = done;
        process.stdout.write(`  ${done} messages\n`);
      }
    },
  });
  const mb = (n: number) => Math.round(n / 2 ** 20);
  const note = `${r.udp} UDP, ${r.tcp} TCP (${r.tcpConnections} connections), ${r.sent} sent in ${Math.round(r.seconds)} s; uncaught errors ${r.uncaught}; node alive: ${r.alive}`;
  return [
    { name: "fuzz: messages taken by the node", value: r.messages, unit: "messages", note },
    { name: "fuzz: CPU per message, median", value: r.cost.p50Us, unit: "µs" },
    { name: "fuzz: CPU per message, p99", value: r.cost.p99Us, unit: "µs" },
    { name: "fuzz: CPU per message, max (first measurement)", value: r.cost.maxUs / 1000, unit: "ms", note: `${r.slowCandidates} over 10 ms at first, ${r.confirmedSlow.length} over 10 ms on every replay${r.confirmedSlow.length ? `: ${JSON.stringify(r.confirmedSlow.slice(0, 3))}` : ""}` },
    { name: "fuzz: RSS before → after", value: mb(r.after.rss), unit: "MiB", note: `before ${mb(r.before.rss)} MiB` },
    { name: "fuzz: heap used before → after (after GC)", value: mb(r.after.heapUsed), unit: "MiB", note: `before ${mb(r.before.heapUsed)} MiB` },
  ];
}
