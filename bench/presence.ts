/**
 * `npm run bench -- presence`: the presence agent on one SIP server over
 * loopback UDP (127.0.150.60 and up): subscriptions per second (watchers
 * of a foreign domain, so no digest round per SUBSCRIBE), PUBLISH → NOTIFY
 * latency to 1, 100 and 1,000 watchers (until the last watcher has its
 * NOTIFY; the PUBLISH's 407 challenge round is included), and heap per
 * subscription. The Kamailio comparison is not run (docs/PERFORMANCE.md).
 */
import dgram from "node:dgram";
import { silentLogger, systemClock } from "../src/base/index.js";
import { MemoryCredentialStore, SipServer } from "../src/sip/index.js";
import { presenceFeature } from "../src/roles/index.js";
import { PresenceUa, pidf } from "../test/support/presence-ua.js";
import type { BenchResult } from "./types.js";

const HOST = "127.0.150.60";
const D = "example.test";

/** A watcher that subscribes once and answers every NOTIFY 200, counting them. */
class Watcher {
  notifies = 0;
  ok = false;
  private sock = dgram.createSocket("udp4");
  constructor(private readonly n: number) {}
  async start(): Promise<void> {
    this.sock.on("message", (m) => this.onMessage(m.toString("latin1")));
    await new Promise<void>((r) => this.sock.bind(0, "127.0.150.61", () => r()));
  }
  private onMessage(text: string): void {
    if (text.startsWith("SIP/2.0 200")) {
      this.ok = true;
      return;
    }
    if (!text.startsWith("NOTIFY")) return;
    this.notifies++;
    const head = text.slice(0, text.indexOf("\r\n\r\n"));
    const keep = head.split("\r\n").filter((l) => /^(via|from|to|call-id|cseq):/i.test(l));
    const via = keep.find((l) => /^via:/i.test(l)) ?? "";
    const m = /SIP\/2\.0\/UDP ([^:;\s]+):(\d+)/i.exec(via);
    if (m) this.sock.send(Buffer.from(["SIP/2.0 200 OK", ...keep, "Content-Length: 0", "", ""].join("\r\n")), Number(m[2]), m[1]);
  }
  subscribe(port: number, presentity: string): void {
    const a = this.sock.address();
    const msg = [`SUBSCRIBE sip:${presentity} SIP/2.0`, `Via: SIP/2.0/UDP ${a.address}:${a.port};branch=z9hG4bK-w${this.n};rport`, "Max-Forwards: 70", `From: <sip:w${this.n}@watchers.test>;tag=w${this.n}`, `To: <sip:${presentity}>`, `Call-ID: bench-${this.n}`, "CSeq: 1 SUBSCRIBE", `Contact: <sip:w${this.n}@${a.address}:${a.port}>`, "Event: presence", "Expires: 3600", "Content-Length: 0", "", ""].join("\r\n");
    this.sock.send(Buffer.from(msg), port, HOST);
  }
  close(): void {
    this.sock.close();
  }
}

async function until(cond: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`presence bench: timed out waiting for ${what}`);
    await new Promise((r) => setImmediate(r));
  }
}

export async function run(): Promise<BenchResult[]> {
  const creds = new MemoryCredentialStore(D);
  for (let i = 0; i < 3; i++) creds.set(`p${i}`, { password: "pw" });
  let server: SipServer | undefined;
  const presence = presenceFeature({ clock: systemClock, logger: silentLogger, domains: [D], server: () => server, withoutRules: "allow", limits: { maxWatchers: 5000 } });
  server = new SipServer({ logger: silentLogger, listen: [{ transport: "udp", host: HOST, port: 0 }], domains: [D], credentials: creds, algorithms: ["MD5"], guard: { rate: 1_000_000, burst: 1_000_000 }, interceptors: [presence.edge] });
  await server.start();
  const port = server.transport.bound()[0]!.boundPort;
  const results: BenchResult[] = [];
  const all: Watcher[] = [];
  try {
    let n = 0;
    for (const [i, count] of [1, 100, 1000].entries()) {
      const presentity = `p${i}@${D}`;
      const watchers = Array.from({ length: count }, () => new Watcher(n++));
      all.push(...watchers);
      await Promise.all(watchers.map((w) => w.start()));
      (globalThis as { gc?: () => void }).gc?.();
      const heap0 = process.memoryUsage().heapUsed;
      const t0 = performance.now();
      for (const w of watchers) w.subscribe(port, presentity);
      await until(() => watchers.every((w) => w.ok && w.notifies >= 1), 30_000, `${count} subscriptions`);
      const subMs = performance.now() - t0;
      (globalThis as { gc?: () => void }).gc?.();
      const heap1 = process.memoryUsage().heapUsed;
      if (count === 1000) {
        results.push({ name: "presence SUBSCRIBE → 200 + first NOTIFY, 1,000 watchers at once", value: count / (subMs / 1000), unit: "subscriptions/s" });
        results.push({ name: "presence heap per subscription (1,000, dialog and record)", value: (heap1 - heap0) / count, unit: "bytes", note: (globalThis as { gc?: () => void }).gc ? "after gc" : "without --expose-gc: rough" });
      }
      const publisher = new PresenceUa("127.0.150.62", `p${i}`, D, "pw", { host: HOST, port });
      await publisher.start();
      const samples: number[] = [];
      for (let k = 0; k < 5; k++) {
        const before = watchers.map((w) => w.notifies);
        const t = performance.now();
        const res = await publisher.publish(pidf(`sip:${presentity}`, k % 2 ? "open" : "closed", `round ${k}`));
        if (res.status !== 200) throw new Error(`PUBLISH answered ${res.status}`);
        await until(() => watchers.every((w, j) => w.notifies > before[j]!), 30_000, `NOTIFYs to ${count}`);
        samples.push(performance.now() - t);
      }
      publisher.close();
      samples.sort((a, b) => a - b);
      results.push({ name: `presence PUBLISH → NOTIFY to ${count.toLocaleString("en-US")} watcher${count > 1 ? "s" : ""} (median of 5, until the last)`, value: samples[2]!, unit: "ms" });
    }
  } finally {
    for (const w of all) w.close();
    await server.stop();
  }
  return results;
}
