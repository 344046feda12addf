import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import dgram from "node:dgram";
import { RtpengineEngine, type RelayedStream } from "../../src/media/index.js";
import { MemoryLogger } from "../support/memory-logger.js";
import { rtpPacket } from "../support/rtp.js";
import { waitFor } from "../support/wait-for.js";
import { testIp } from "../support/slot.js";

/** rtpengine (Debian rtpengine-daemon, userspace: --table=-1) on testIp(130, 200), ng on port 22230, media 43000-43099. */
const HOST = testIp(130, 200);
const NG = 22230;

async function ping(): Promise<boolean> {
  const s = dgram.createSocket("udp4");
  try {
    return await new Promise<boolean>((resolve) => {
      const t = setTimeout(() => resolve(false), 300);
      s.on("message", (m) => {
        clearTimeout(t);
        resolve(m.toString().includes("pong"));
      });
      s.send(Buffer.from("p1 d7:command4:pinge"), NG, HOST);
    });
  } finally {
    s.close();
  }
}

describe("rtpengine ng engine against rtpengine-daemon (userspace)", () => {
  let daemon: ChildProcess;
  let log = "";
  const engine = new RtpengineEngine({ host: HOST, port: NG, logger: new MemoryLogger() });
  const sockets: dgram.Socket[] = [];

  before(async () => {
    daemon = spawn("rtpengine", ["--foreground", "--log-stderr", "--table=-1", `--interface=${HOST}`, `--listen-ng=${HOST}:${NG}`, "--port-min=43000", "--port-max=43099", "--log-level=5"], { stdio: ["ignore", "pipe", "pipe"] });
    daemon.stderr!.setEncoding("utf8").on("data", (d: string) => (log = (log + d).slice(-4000)));
    await waitFor(() => ping(), { timeoutMs: 10_000, message: `rtpengine ng ping\n${log}` });
    await engine.start();
  });

  after(async () => {
    engine.stop();
    for (const s of sockets) s.close();
    if (daemon && daemon.exitCode === null) {
      const exited = new Promise((r) => daemon.once("exit", r));
      daemon.kill("SIGTERM");
      const t = setTimeout(() => daemon.kill("SIGKILL"), 5000);
      await exited;
      clearTimeout(t);
    }
  });

  const phone = async (ip: string) => {
    const s = dgram.createSocket("udp4");
    sockets.push(s);
    const got: Buffer[] = [];
    s.on("message", (m) => got.push(m));
    await new Promise<void>((r) => s.bind(0, ip, () => r()));
    return { s, got, port: s.address().port, send: (p: Buffer, to: RelayedStream) => s.send(p, to.port, to.address) };
  };

  it("offer, answer, RTP both ways, query and delete", async () => {
    const alice = await phone(testIp(130, 201));
    const bob = await phone(testIp(130, 202));
    const toBob = await engine.offer({ callId: "ng-1", tag: "a", streams: [{ address: testIp(130, 201), port: alice.port }] });
    assert.equal(toBob[0]!.address, HOST);
    assert.ok(toBob[0]!.port >= 43000 && toBob[0]!.port <= 43099);
    const toAlice = await engine.update({ callId: "ng-1", tag: "b", streams: [{ address: testIp(130, 202), port: bob.port }] });
    assert.notEqual(toAlice[0]!.port, toBob[0]!.port);
    for (let i = 0; i < 20; i++) {
      alice.send(rtpPacket(i, i * 160, 0xa), toAlice[0]!);
      bob.send(rtpPacket(i, i * 160, 0xb), toBob[0]!);
      await new Promise((r) => setTimeout(r, 5));
    }
    await waitFor(() => alice.got.length >= 15 && bob.got.length >= 15, { timeoutMs: 5000, message: `RTP through rtpengine (${alice.got.length}/${bob.got.length})\n${log}` });
    const q = await engine.query("ng-1");
    assert.ok(q);
    assert.deepEqual(q.parties, ["a", "b"]);
    assert.ok(q.streams[0]!.legs[0].received.packets >= 15, JSON.stringify(q));
    assert.equal(engine.statistics().sessions, 1);
    assert.ok(await engine.delete("ng-1"));
    assert.equal(engine.statistics().sessions, 0);
    await assert.rejects(engine.update({ callId: "ng-1", tag: "b", streams: [] }));
  });
});
