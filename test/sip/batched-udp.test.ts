import { describe, it } from "node:test";
import assert from "node:assert/strict";
import dgram from "node:dgram";
import { loadSocketsAddon, silentLogger, type SocketsAddon } from "../../src/base/index.js";
import type { SipRequest } from "../../src/sip/message/index.js";
import { TransportLayer, type Inbound } from "../../src/sip/transport/index.js";
import { BatchedUdpSocket } from "../../src/sip/transport/batched-udp.js";
import { testIp } from "../support/slot.js";
import { waitFor } from "../support/wait-for.js";

const addon = loadSocketsAddon();
const built = typeof addon === "string" ? `the sockets addon: ${addon}` : false;

function options(callId: string, via: string, body = ""): Buffer {
  return Buffer.from(
    `OPTIONS sip:x@example.test SIP/2.0\r\nVia: SIP/2.0/UDP ${via};branch=z9hG4bK-${callId}\r\nFrom: <sip:a@example.test>;tag=1\r\nTo: <sip:x@example.test>\r\nCall-ID: ${callId}\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\n` +
      (body ? `Content-Type: text/plain\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}` : "Content-Length: 0\r\n\r\n"),
  );
}

async function client(host: string): Promise<{ socket: dgram.Socket; got: string[]; port: number }> {
  const socket = dgram.createSocket({ type: host.includes(":") ? "udp6" : "udp4", recvBufferSize: 4 << 20 });
  const got: string[] = [];
  socket.on("message", (m) => got.push(m.toString("latin1")));
  await new Promise<void>((r) => socket.bind(0, host, r));
  return { socket, got, port: socket.address().port };
}

/** A layer that answers every request with a datagram naming its Call-ID (sent on the request's flow). */
async function echoLayer(host: string, udpIo: "batched" | "dgram"): Promise<{ layer: TransportLayer; port: number; received: Inbound[] }> {
  const received: Inbound[] = [];
  const layer = new TransportLayer({
    logger: silentLogger,
    listen: [{ transport: "udp", host, port: 0 }],
    udpIo,
    onMessage: (inbound) => {
      received.push(inbound);
      if (inbound.message.isRequest) inbound.flow.send(Buffer.from(`answer ${inbound.message.callId}`));
    },
  });
  await layer.start();
  return { layer, port: layer.bound()[0]!.boundPort, received };
}

describe("batched UDP (recvmmsg/sendmmsg through the sockets addon)", { skip: built }, () => {
  for (const [io, host] of [["batched", testIp(171, 1)], ["dgram", testIp(171, 2)], ["batched", "::1"]] as const) {
    it(`${io} on ${host}: a burst of 600 requests each gets its own answer, from the right sender`, async () => {
      const { layer, port, received } = await echoLayer(host, io);
      const c = await client(host);
      try {
        assert.equal(layer.udpIo, io);
        for (let i = 0; i < 600; i++) c.socket.send(options(`burst-${i}`, `${host.includes(":") ? `[${host}]` : host}:${c.port}`), port, host);
        await waitFor(() => c.got.length === 600, { message: "600 answers" });
        assert.deepEqual(new Set(c.got), new Set(Array.from({ length: 600 }, (_, i) => `answer burst-${i}`)));
        assert.equal(received.length, 600);
        for (const r of received) assert.deepEqual(r.flow.remote, { address: host, port: c.port });
        assert.equal(layer.stats.received, 600);
      } finally {
        c.socket.close();
        await layer.stop();
      }
    });
  }

  it("a body kept with its message survives the datagrams that reuse its inbox slot", async () => {
    const host = testIp(171, 3);
    const { layer, port, received } = await echoLayer(host, "batched");
    const c = await client(host);
    try {
      const body = "the first body, kept".repeat(20);
      c.socket.send(options("kept", `${host}:${c.port}`, body), port, host);
      await waitFor(() => received.length === 1);
      for (let i = 0; i < 100; i++) c.socket.send(options(`over-${i}`, `${host}:${c.port}`, "X".repeat(body.length)), port, host);
      await waitFor(() => received.length === 101, { message: "101 requests" });
      const first = received[0]!.message as SipRequest;
      assert.equal(first.callId, "kept");
      assert.equal(first.body.toString(), body);
    } finally {
      c.socket.close();
      await layer.stop();
    }
  });

  it("a datagram the kernel refuses goes to its sink; the rest of the batch still leaves", async () => {
    const a = addon as SocketsAddon;
    const host = testIp(171, 4);
    const fd = a.udpOpen(host, 0, 1 << 20, false);
    assert.ok(fd >= 0, `udpOpen: errno ${-fd}`);
    const troubles: string[] = [];
    const socket = new BatchedUdpSocket(a, fd, { onDatagram: () => undefined, onTrouble: (what) => troubles.push(what) });
    const c = await client(host);
    try {
      const errors: Error[] = [];
      // A broadcast without SO_BROADCAST: EACCES from sendmmsg, for this datagram only.
      socket.send(Buffer.from("refused"), { address: "255.255.255.255", port: 9 }, { onError: (err) => errors.push(err) });
      for (let i = 0; i < 20; i++) socket.send(Buffer.from(`after ${i}`), { address: host, port: c.port }, undefined);
      assert.throws(() => socket.send(Buffer.from("x"), { address: "phone.example.test", port: 5060 }, undefined), /not an IP address/);
      await waitFor(() => c.got.length === 20, { message: "20 datagrams" });
      assert.equal(errors.length, 1);
      assert.equal((errors[0] as NodeJS.ErrnoException).code, "EACCES");
      assert.deepEqual(c.got, Array.from({ length: 20 }, (_, i) => `after ${i}`));
      assert.deepEqual(troubles, []);
    } finally {
      c.socket.close();
      socket.close();
    }
  });

  it("binding a taken address fails with EADDRINUSE, and a closed listener frees its port", async () => {
    const host = testIp(171, 5);
    const { layer, port } = await echoLayer(host, "batched");
    const second = new TransportLayer({ logger: silentLogger, listen: [{ transport: "udp", host, port }], udpIo: "batched" });
    await assert.rejects(second.start(), /EADDRINUSE/);
    await layer.stop();
    const third = new TransportLayer({ logger: silentLogger, listen: [{ transport: "udp", host, port }], udpIo: "batched" });
    await third.start();
    await third.stop();
  });
});
