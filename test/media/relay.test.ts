import { after, describe, it } from "node:test";
import assert from "node:assert/strict";
import dgram from "node:dgram";
import { ManualClock } from "../../src/base/index.js";
import { MediaRelay, RelayDrainingError, SessionNotFoundError, type RelayedStream } from "../../src/media/index.js";
import { MemoryLogger } from "../support/memory-logger.js";
import { waitFor } from "../support/wait-for.js";
import { rtcpReceiverReport, rtpPacket } from "../support/rtp.js";
import { slotPort, testIp, testNet } from "../support/slot.js";

/** Our loopback subnets: testIp(130, 0)/24 (relay, phones) and testIp(131, 0)/24 (unreachable addresses). */
const RELAY = testIp(130, 1);

class Phone {
  readonly received: Buffer[] = [];
  readonly socket: dgram.Socket;
  constructor(readonly address: string, type: "udp4" | "udp6" = "udp4") {
    this.socket = dgram.createSocket(type);
    this.socket.on("message", (m) => this.received.push(m));
  }
  async bind(): Promise<number> {
    await new Promise<void>((r) => this.socket.bind(0, this.address, () => r()));
    return this.socket.address().port;
  }
  get port(): number {
    return this.socket.address().port;
  }
  send(p: Buffer, to: RelayedStream, rtcp = false): Promise<void> {
    return new Promise((r) => this.socket.send(p, rtcp ? to.rtcpPort : to.port, to.address, () => r()));
  }
  close(): void {
    this.socket.close();
  }
}

for (const dataPath of ["js", "native"] as const) {
const base = dataPath === "js" ? 41000 : 44000;
describe(`media relay engine on loopback (${dataPath} data path)`, () => {
  const relays: MediaRelay[] = [];
  const phones: Phone[] = [];
  after(() => {
    for (const r of relays) r.stop();
    for (const p of phones) p.close();
  });
  const relay = (extra: Partial<ConstructorParameters<typeof MediaRelay>[0]> = {}) => {
    const r = new MediaRelay({ interfaces: [{ listen: RELAY }], logger: new MemoryLogger(), dataPath, portMin: base + relays.length * 100, portMax: base + 99 + relays.length * 100, ...extra });
    relays.push(r);
    r.start();
    return r;
  };
  /** An offer from alice and bob's answer: where each must send. */
  const connect = async (r: MediaRelay, callId: string, alice: Phone, bob: Phone) => {
    const toBob = await r.offer({ callId, tag: "a", streams: [{ address: alice.address, port: alice.port }] });
    const toAlice = await r.update({ callId, tag: "b", streams: [{ address: bob.address, port: bob.port }] });
    return { toBob, toAlice };
  };
  const phone = async (address: string, type: "udp4" | "udp6" = "udp4") => {
    const p = new Phone(address, type);
    phones.push(p);
    await p.bind();
    return p;
  };

  it("relays RTP and RTCP both ways and counts each direction", async () => {
    const r = relay();
    const alice = await phone(testIp(130, 10));
    const bob = await phone(testIp(130, 11));
    const toBob = await r.offer({ callId: "c1", tag: "a", streams: [{ address: alice.address, port: alice.port }] });
    assert.equal(toBob[0]!.address, RELAY);
    const toAlice = await r.update({ callId: "c1", tag: "b", streams: [{ address: bob.address, port: bob.port, rtcpMux: true }] });
    assert.notEqual(toAlice[0]!.port, toBob[0]!.port);
    for (let i = 0; i < 10; i++) {
      if (i === 5) continue; // one lost on the way in
      await alice.send(rtpPacket(i, i * 160, 0xa), toAlice[0]!);
      await bob.send(rtpPacket(i, i * 160, 0xb), toBob[0]!);
    }
    await alice.send(rtcpReceiverReport(), toAlice[0]!, true);
    await waitFor(() => alice.received.length === 9 && bob.received.length === 10, { timeoutMs: 3000, message: "relayed packets" });
    assert.equal(bob.received[9]![1], 201, "RTCP reaches bob on his RTP port (rtcp-mux)");
    const q = r.query("c1")!;
    const [legA, legB] = q.streams[0]!.legs;
    assert.equal(legA.party, "a");
    assert.equal(legB.party, "b");
    assert.equal(legA.received.packets, 9);
    assert.equal(legA.received.lost, 1);
    assert.equal(legA.received.reportedLoss, 0.25);
    assert.equal(legB.received.packets, 9);
    assert.equal(r.statistics().sessions, 1);
    assert.equal(r.statistics().portsInUse, 4);
    assert.ok(r.delete("c1"));
    assert.equal(r.statistics().portsInUse, 0);
    assert.equal(r.query("c1"), undefined);
  });

  it("latches to the real source when the SDP advertises an unreachable address", async () => {
    const r = relay();
    const natted = await phone(testIp(130, 12));
    const bob = await phone(testIp(130, 13));
    // The NATed phone's SDP names an address where nothing listens (its private address, as seen from here).
    const toBob = await r.offer({ callId: "c2", tag: "a", streams: [{ address: testIp(131, 254), port: 4000 }] });
    const toNatted = await r.update({ callId: "c2", tag: "b", streams: [{ address: bob.address, port: bob.port }] });
    await natted.send(rtpPacket(1, 160), toNatted[0]!);
    await waitFor(() => bob.received.length === 1, { timeoutMs: 3000, message: "first packet relayed" });
    await bob.send(rtpPacket(1, 160, 9), toBob[0]!);
    await waitFor(() => natted.received.length === 1, { timeoutMs: 3000, message: "answer latched to the real source" });
    const legA = r.query("c2")!.streams[0]!.legs[0];
    assert.equal(legA.latched, true);
    assert.equal(legA.remote, `${testNet(130)}.12:${natted.port}`);
  });

  it("drops packets from an unknown source after latching, and non-RTP, without forwarding them", async () => {
    const r = relay();
    const alice = await phone(testIp(130, 14));
    const bob = await phone(testIp(130, 15));
    const mallory = await phone(testIp(130, 16));
    const { toBob, toAlice } = await connect(r, "c3", alice, bob);
    await alice.send(rtpPacket(1, 160), toAlice[0]!);
    await bob.send(rtpPacket(1, 160), toBob[0]!);
    await waitFor(() => alice.received.length === 1 && bob.received.length === 1, { timeoutMs: 3000 });
    for (let i = 0; i < 5; i++) await mallory.send(rtpPacket(100 + i, 0, 666), toAlice[0]!);
    await mallory.send(Buffer.from("GET / HTTP/1.0\r\n\r\n"), toBob[0]!);
    await alice.send(Buffer.from("x"), toAlice[0]!);
    await waitFor(() => r.counters.unknownSource === 5 && r.counters.invalid === 2, { timeoutMs: 3000, message: `drops ${JSON.stringify(r.counters)}` });
    assert.equal(bob.received.length, 1);
    assert.equal(alice.received.length, 1);
    assert.equal(mallory.received.length, 0, "nothing is sent to a third address");
    assert.equal(r.query("c3")!.streams[0]!.legs[0].dropped.unknownSource, 5);
  });

  it("drops a flood over the per-leg limit", async () => {
    const r = relay({ floodPps: 20 });
    const alice = await phone(testIp(130, 17));
    const bob = await phone(testIp(130, 18));
    const { toAlice } = await connect(r, "c4", alice, bob);
    for (let i = 0; i < 200; i++) alice.socket.send(rtpPacket(i, i * 160), toAlice[0]!.port, toAlice[0]!.address);
    await waitFor(() => r.counters.flood + bob.received.length >= 195, { timeoutMs: 3000, message: "flood counted" });
    assert.ok(bob.received.length <= 40, `forwarded ${bob.received.length}`);
    assert.ok(r.counters.flood >= 150);
  });

  it("a stranger's flood on a leg's port does not push its party over the flood limit", async () => {
    const r = relay({ floodPps: 20 });
    const alice = await phone(testIp(130, 22));
    const bob = await phone(testIp(130, 23));
    const mallory = await phone(testIp(130, 24));
    const { toAlice } = await connect(r, "c4b", alice, bob);
    await alice.send(rtpPacket(0, 0), toAlice[0]!);
    await waitFor(() => bob.received.length === 1, { timeoutMs: 3000 });
    for (let i = 0; i < 100; i++) mallory.socket.send(rtpPacket(i, 0, 666), toAlice[0]!.port, toAlice[0]!.address);
    await waitFor(() => r.counters.unknownSource === 100, { timeoutMs: 3000, message: `mallory's packets dropped ${JSON.stringify(r.counters)}` });
    for (let i = 1; i <= 5; i++) await alice.send(rtpPacket(i, i * 160), toAlice[0]!);
    await waitFor(() => bob.received.length === 6, { timeoutMs: 3000, message: "alice's packets still relayed" });
    assert.equal(r.counters.flood, 0);
  });

  it("survives hostile datagrams of every size and legs closed while packets flow", async () => {
    const r = relay();
    const alice = await phone(testIp(130, 25));
    const bob = await phone(testIp(130, 26));
    const { toAlice, toBob } = await connect(r, "c4c", alice, bob);
    // Random bytes, truncated headers, RTCP with lying lengths, and datagrams up to 60 KB, on both ports of both legs.
    let seed = 7;
    const rand = () => ((seed = (seed * 1103515245 + 12345) >>> 0) >>> 8) / 0x1000000;
    for (let i = 0; i < 400; i++) {
      const size = i % 50 === 0 ? 60_000 : Math.floor(rand() * 300);
      const p = Buffer.alloc(size);
      for (let k = 0; k < size; k++) p[k] = Math.floor(rand() * 256);
      if (size > 1 && i % 3 === 0) p[0] = 0x80 | (p[0]! & 0x3f);
      const to = i % 2 === 0 ? toAlice[0]! : toBob[0]!;
      (i % 4 < 2 ? alice : bob).socket.send(p, i % 5 === 0 ? to.rtcpPort : to.port, to.address);
    }
    await alice.send(rtpPacket(1, 160), toAlice[0]!);
    await waitFor(() => bob.received.length > 0 && r.counters.invalid > 100, { timeoutMs: 3000, message: `hostile input counted ${JSON.stringify(r.counters)}` });
    // Close the session while alice keeps sending: late packets hit closed ports, nothing breaks.
    const sending = setInterval(() => alice.socket.send(rtpPacket(2, 320), toAlice[0]!.port, toAlice[0]!.address), 1);
    try {
      await new Promise((res) => setTimeout(res, 20));
      assert.ok(r.delete("c4c"));
      await new Promise((res) => setTimeout(res, 20));
    } finally {
      clearInterval(sending);
    }
    // The relay still serves a new call.
    const carol = await phone(testIp(130, 27));
    const dave = await phone(testIp(130, 28));
    const next = await connect(r, "c4d", carol, dave);
    await carol.send(rtpPacket(1, 160), next.toAlice[0]!);
    await waitFor(() => dave.received.length === 1, { timeoutMs: 3000, message: "a new call is relayed" });
    r.delete("c4d");
  });

  it("a new address or port in a re-INVITE unlatches the leg", async () => {
    const r = relay();
    const alice = await phone(testIp(130, 19));
    const alice2 = await phone(testIp(130, 20));
    const bob = await phone(testIp(130, 21));
    const { toBob, toAlice } = await connect(r, "c5", alice, bob);
    await alice.send(rtpPacket(1, 160), toAlice[0]!);
    await waitFor(() => bob.received.length === 1, { timeoutMs: 3000 });
    // Same description again (a refresh): still latched; alice2 is refused.
    assert.deepEqual(await r.offer({ callId: "c5", tag: "a", streams: [{ address: alice.address, port: alice.port }] }), toBob);
    await alice2.send(rtpPacket(2, 320), toAlice[0]!);
    await waitFor(() => r.counters.unknownSource === 1, { timeoutMs: 3000 });
    // A re-INVITE from the caller with new media: the leg latches afresh.
    await r.update({ callId: "c5", tag: "a", streams: [{ address: alice2.address, port: alice2.port }] });
    await alice2.send(rtpPacket(3, 480), toAlice[0]!);
    await waitFor(() => bob.received.length === 2, { timeoutMs: 3000 });
    await bob.send(rtpPacket(1, 160), toBob[0]!);
    await waitFor(() => alice2.received.length === 1, { timeoutMs: 3000 });
  });

  it("relays over IPv6", async () => {
    // ::1 is shared by every run slot: its ports are the slot's own (slotPort), below the ephemeral range.
    const v6 = slotPort(dataPath === "js" ? 30_000 : 30_100);
    const r = new MediaRelay({ interfaces: [{ listen: RELAY }, { listen: "::1" }], logger: new MemoryLogger(), dataPath, portMin: v6, portMax: v6 + 99 });
    relays.push(r);
    const alice = await phone("::1", "udp6");
    const bob = await phone("::1", "udp6");
    const toBob = await r.offer({ callId: "c6", tag: "a", streams: [{ address: "::1", port: alice.port }] });
    assert.equal(toBob[0]!.address, "::1");
    const toAlice = await r.update({ callId: "c6", tag: "b", streams: [{ address: "::1", port: bob.port }] });
    await alice.send(rtpPacket(1, 160), toAlice[0]!);
    await bob.send(rtpPacket(1, 160), toBob[0]!);
    await waitFor(() => alice.received.length === 1 && bob.received.length === 1, { timeoutMs: 3000 });
  });

  it("advertises its public address, not the listen address", async () => {
    const r = relay({ interfaces: [{ listen: RELAY, advertise: "198.51.100.7" }] });
    const out = await r.offer({ callId: "c7", tag: "a", streams: [{ address: testIp(130, 30), port: 5000 }, { address: testIp(130, 30), port: 0 }] });
    assert.equal(out[0]!.address, "198.51.100.7");
    assert.equal(out[1]!.port, 0, "a disabled stream stays disabled");
    r.delete("c7");
  });

  it("expires a session after the inactivity time", async () => {
    const clock = new ManualClock();
    const r = new MediaRelay({ interfaces: [{ listen: RELAY }], logger: new MemoryLogger(), clock, inactivityMs: 1000, dataPath, portMin: base + 900, portMax: base + 999 });
    relays.push(r);
    r.start();
    await r.offer({ callId: "c8", tag: "a", streams: [{ address: testIp(130, 31), port: 5000 }] });
    clock.advance(900);
    assert.equal(r.sessionCount, 1);
    clock.advance(400);
    assert.equal(r.sessionCount, 0);
    assert.equal(r.statistics().portsInUse, 0);
  });

  it("while draining refuses new sessions and keeps its current ones", async () => {
    const r = relay();
    await r.offer({ callId: "c9", tag: "a", streams: [{ address: testIp(130, 32), port: 5000 }] });
    r.setDraining(true);
    await assert.rejects(r.offer({ callId: "c10", tag: "a", streams: [{ address: testIp(130, 32), port: 5002 }] }), RelayDrainingError);
    await r.update({ callId: "c9", tag: "b", streams: [{ address: testIp(130, 33), port: 5000 }] });
    await assert.rejects(r.update({ callId: "nope", tag: "b", streams: [] }), SessionNotFoundError);
    assert.equal(r.statistics().draining, true);
    r.delete("c9");
  });
});
}
