/** RTP and RTCP packets built for tests (RFC 3550 5.1, 6.4.2). */
export function rtpPacket(seq: number, ts: number, ssrc = 0x1234, payload = 160, pt = 0): Buffer {
  const b = Buffer.alloc(12 + payload);
  b[0] = 0x80;
  b[1] = pt;
  b.writeUInt16BE(seq & 0xffff, 2);
  b.writeUInt32BE(ts >>> 0, 4);
  b.writeUInt32BE(ssrc >>> 0, 8);
  return b;
}

/** An RTCP RR with one report block (fraction lost 64/256, 5 lost, jitter 80). */
export function rtcpReceiverReport(): Buffer {
  const b = Buffer.alloc(32);
  b[0] = 0x81;
  b[1] = 201;
  b.writeUInt16BE(7, 2);
  b.writeUInt32BE(0x1234, 4);
  b.writeUInt32BE(0x5678, 8);
  b[12] = 64;
  b.writeUIntBE(5, 13, 3);
  b.writeUInt32BE(80, 20);
  return b;
}

