import { test } from "node:test";
import assert from "node:assert/strict";
import dgram from "node:dgram";
import dnsPacket from "dns-packet";
import { ManualClock, silentLogger } from "../../src/base/index.js";
import { Authority, DnsServer, RateLimiter, Responder } from "../../src/dns/index.js";
import { waitFor } from "../support/wait-for.js";
import { testIp } from "../support/slot.js";

test("clients are counted per /24 and /56", () => {
  assert.equal(RateLimiter.prefix("192.0.2.77"), "192.0.2.0/24");
  assert.equal(RateLimiter.prefix("::ffff:192.0.2.77"), "192.0.2.0/24");
  assert.equal(RateLimiter.prefix("2001:db8:1:2345::1"), "2001:0db8:0001:2300::/56");
  assert.equal(RateLimiter.prefix("2001:db8:1:23ff:ffff::9"), "2001:0db8:0001:2300::/56");
});

test("over the rate, every second response slips (TC) and the others are dropped; tokens refill with time", () => {
  const clock = new ManualClock();
  const rl = new RateLimiter({ rate: 3, clock });
  const burst = Array.from({ length: 7 }, () => rl.decide("198.51.100.1"));
  assert.deepEqual(burst, ["send", "send", "send", "drop", "slip", "drop", "slip"]);
  assert.equal(rl.decide("198.51.101.1"), "send", "another /24 has its own budget");
  clock.advance(1000);
  assert.deepEqual(Array.from({ length: 4 }, () => rl.decide("198.51.100.200")).slice(0, 3), ["send", "send", "send"]);
  const off = new RateLimiter({ rate: 1, slip: 0, clock });
  off.decide("203.0.113.1");
  assert.deepEqual([off.decide("203.0.113.1"), off.decide("203.0.113.1")], ["drop", "drop"]);
});

test("the table of prefixes is bounded", () => {
  const rl = new RateLimiter({ rate: 1, maxPrefixes: 10, clock: new ManualClock() });
  for (let i = 0; i < 50; i++) rl.decide(`10.0.${i}.1`);
  assert.equal(rl.decide("10.0.0.1"), "send", "the oldest prefixes were forgotten");
});

test("over UDP: a flood from one client gets its rate, then TC answers and silence", async () => {
  const authority = new Authority([{ origin: "example.com", nameservers: [{ name: "ns1.example.com", ip: "192.0.2.53" }] }], 1);
  const server = new DnsServer({ responder: new Responder(authority), logger: silentLogger, listen: [{ host: testIp(20, 203), port: 0 }], rateLimiter: new RateLimiter({ rate: 5 }) });
  const [addr] = await server.start();
  const sock = dgram.createSocket("udp4");
  const replies: Array<{ tc: boolean; answers: number }> = [];
  sock.on("message", (m) => {
    const p = dnsPacket.decode(m);
    replies.push({ tc: p.flag_tc, answers: p.answers?.length ?? 0 });
  });
  try {
    for (let i = 0; i < 25; i++) sock.send(dnsPacket.encode({ type: "query", id: i, questions: [{ name: "example.com", type: "SOA" }] }), addr!.port, addr!.host);
    await waitFor(() => server.stats.rateLimited >= 15, { timeoutMs: 5000, message: "flood counted" });
    await waitFor(() => replies.length >= 5 + 8, { timeoutMs: 5000, message: "replies" });
    const full = replies.filter((r) => !r.tc && r.answers === 1).length;
    const slipped = replies.filter((r) => r.tc && r.answers === 0).length;
    assert.ok(full >= 5 && full <= 7, `full answers ${full}`);
    assert.ok(slipped >= 8 && slipped <= 11, `TC answers ${slipped}`);
    assert.ok(replies.length < 25);
  } finally {
    sock.close();
    await server.stop();
  }
});
