import { describe, it } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { classifyPacket, PacketKind, rtcpFirstReport } from "../../src/media/rtp-codec.js";
import { ReceiverStats } from "../../src/media/stream-stats.js";
import { rtcpReceiverReport, rtpPacket } from "../support/rtp.js";

describe("RTP/RTCP classification (RFC 3550, RFC 5761)", () => {
  it("recognises RTP, RTCP and rejects what is neither", () => {
    assert.equal(classifyPacket(rtpPacket(1, 160)), PacketKind.Rtp);
    assert.equal(classifyPacket(rtcpReceiverReport()), PacketKind.Rtcp);
    assert.equal(classifyPacket(Buffer.from("hello world, not rtp")), PacketKind.Invalid);
    assert.equal(classifyPacket(Buffer.alloc(4)), PacketKind.Invalid);
    const short = rtpPacket(1, 1, 1, 0);
    short[0] = 0x8f; // 15 CSRCs announced, none present
    assert.equal(classifyPacket(short), PacketKind.Invalid);
    const rtcp = rtcpReceiverReport();
    rtcp.writeUInt16BE(40, 2); // length overruns the datagram
    assert.equal(classifyPacket(rtcp), PacketKind.Invalid);
  });

  it("reads the first report block of an RR", () => {
    assert.deepEqual(rtcpFirstReport(rtcpReceiverReport()), { fractionLost: 0.25, cumulativeLost: 5, jitter: 80 });
  });

  it("never throws on arbitrary bytes", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 80 }), (bytes) => {
        classifyPacket(bytes);
        rtcpFirstReport(bytes);
        return true;
      }),
      { numRuns: 5000 },
    );
  });
});

describe("receiver statistics (RFC 3550 A.1, A.8)", () => {
  it("counts loss from sequence gaps, across the 16-bit wrap", () => {
    const s = new ReceiverStats();
    let t = 0;
    for (let seq = 65530; seq < 65550; seq++) {
      if (seq === 65535 || seq === 65540) continue; // two lost, one before the wrap and one after
      s.onRtp(rtpPacket(seq, seq * 160), (t += 20));
    }
    assert.equal(s.packets, 18);
    assert.equal(s.lost, 2);
  });

  it("measures no jitter for a perfectly paced stream, and some for an uneven one", () => {
    const even = new ReceiverStats(8000);
    for (let i = 0; i < 50; i++) even.onRtp(rtpPacket(i, i * 160), i * 20);
    assert.equal(even.jitterMs, 0);
    const uneven = new ReceiverStats(8000);
    for (let i = 0; i < 50; i++) uneven.onRtp(rtpPacket(i, i * 160), i * 20 + (i % 2 ? 10 : 0));
    assert.ok(uneven.jitterMs > 4 && uneven.jitterMs < 11, `jitter ${uneven.jitterMs}`);
  });

  it("restarts on a new SSRC instead of counting loss", () => {
    const s = new ReceiverStats();
    s.onRtp(rtpPacket(100, 0, 1), 0);
    s.onRtp(rtpPacket(101, 160, 1), 20);
    s.onRtp(rtpPacket(9000, 0, 2), 40);
    s.onRtp(rtpPacket(9001, 160, 2), 60);
    assert.equal(s.lost, 0);
  });
});
