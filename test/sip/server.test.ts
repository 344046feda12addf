import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import dgram from "node:dgram";
import net from "node:net";
import { WebSocket } from "ws";
import { silentLogger } from "../../src/base/index.js";
import { computeHa1, digestResponse, MemoryCredentialStore, SipServer } from "../../src/sip/index.js";
import { waitFor } from "../support/wait-for.js";
import { testIp, testNet, testNetRe } from "../support/slot.js";

/** The SIP server over real sockets with a hand-written client: bad input, abuse, WebSocket. */
describe("SIP server edge cases on loopback", () => {
  let server: SipServer;
  let udpPort = 0;
  let tcpPort = 0;
  let wsPort = 0;
  const HOST = testIp(8, 1);

  before(async () => {
    const creds = new MemoryCredentialStore("example.test");
    creds.set("alice", { password: "secret" });
    server = new SipServer({
      logger: silentLogger,
      listen: [
        { transport: "udp", host: HOST, port: 0 },
        { transport: "tcp", host: HOST, port: 0 },
        { transport: "ws", host: HOST, port: 0 },
      ],
      domains: ["example.test"],
      credentials: creds,
      algorithms: ["MD5"],
      guard: { rate: 50, burst: 50, maxAuthFailures: 3, banMs: 60_000 },
    });
    await server.start();
    const b = server.transport.bound();
    udpPort = b.find((x) => x.transport === "udp")!.boundPort;
    tcpPort = b.find((x) => x.transport === "tcp")!.boundPort;
    wsPort = b.find((x) => x.transport === "ws")!.boundPort;
  });
  after(() => server.stop());

  const msg = (lines: string[]) => Buffer.from(lines.join("\r\n") + "\r\n\r\n");
  const options = (branch: string, from = "sip:bob@elsewhere.test", extra: string[] = []) =>
    msg([`OPTIONS sip:example.test SIP/2.0`, `Via: SIP/2.0/UDP ${testNet(8)}.9:5999;branch=${branch};rport`, `From: <${from}>;tag=1`, `To: <sip:example.test>`, `Call-ID: ${branch}`, `CSeq: 1 OPTIONS`, "Max-Forwards: 70", ...extra, "Content-Length: 0"]);

  /** Send a UDP datagram from `ip` and collect the responses for `ms`... bounded by a condition. */
  async function udp(ip: string, data: Buffer, expect: number): Promise<string[]> {
    const sock = dgram.createSocket("udp4");
    const got: string[] = [];
    sock.on("message", (m) => got.push(m.toString()));
    await new Promise<void>((r) => sock.bind(0, ip, () => r()));
    sock.send(data, udpPort, HOST);
    try {
      await waitFor(() => got.length >= expect, { timeoutMs: 3000, message: `${expect} response(s)` });
    } finally {
      sock.close();
    }
    return got;
  }

  it("answers a malformed request with 400 and the reason", async () => {
    const bad = msg(["OPTIONS sip:example.test SIP/2.0", `Via: SIP/2.0/UDP ${testNet(8)}.9:5999;branch=z9hG4bKbad1`, "From: <sip:a@b.c>;tag=1", "To: <sip:example.test>", "Call-ID: bad1", "CSeq: 1 INVITE", "Content-Length: 0"]);
    const [res] = await udp(testIp(8, 10), bad, 1);
    assert.match(res!, /^SIP\/2\.0 400 Bad Request \(CSeq method INVITE does not match OPTIONS\)\r\n/);
    assert.match(res!, /Call-ID: bad1/);
  });

  it("answers OPTIONS, stamping received/rport on the Via (RFC 3581)", async () => {
    const [res] = await udp(testIp(8, 11), options("z9hG4bKopt1"), 1);
    assert.match(res!, /^SIP\/2\.0 200 OK/);
    assert.match(res!, new RegExp(String.raw`Via: SIP\/2\.0\/UDP ${testNetRe(8)}\.9:5999;branch=z9hG4bKopt1;rport=\d+;received=${testNetRe(8)}\.11`));
  });

  it("refuses to relay for foreign users to foreign domains", async () => {
    const relay = msg(["MESSAGE sip:someone@foreign.test SIP/2.0", `Via: SIP/2.0/UDP ${testNet(8)}.12:5999;branch=z9hG4bKrelay`, "From: <sip:spammer@foreign.test>;tag=1", "To: <sip:someone@foreign.test>", "Call-ID: relay1", "CSeq: 1 MESSAGE", "Max-Forwards: 70", "Content-Length: 0"]);
    const [res] = await udp(testIp(8, 12), relay, 1);
    assert.match(res!, /^SIP\/2\.0 403 Relaying Denied/);
    // A pre-loaded Route to another host does not open the relay either, even towards one of our users.
    const routed = msg(["MESSAGE sip:alice@example.test SIP/2.0", `Via: SIP/2.0/UDP ${testNet(8)}.12:5998;branch=z9hG4bKrelay2`, "Route: <sip:victim.foreign.test;lr>", "From: <sip:spammer@foreign.test>;tag=1", "To: <sip:alice@example.test>", "Call-ID: relay2", "CSeq: 1 MESSAGE", "Max-Forwards: 70", "Content-Length: 0"]);
    const [res2] = await udp(testIp(8, 12), routed, 1);
    assert.match(res2!, /^SIP\/2\.0 403 Relaying Denied/);
  });

  it("throttles, never bans, a UDP source after repeated authentication failures (UDP sources can be spoofed)", async () => {
    const ip = testIp(8, 13);
    for (let i = 0; i < 3; i++) {
      const nonceRes = (await udp(ip, msg([`REGISTER sip:example.test SIP/2.0`, `Via: SIP/2.0/UDP ${ip}:5999;branch=z9hG4bKbf${i}a`, `From: <sip:alice@example.test>;tag=1`, `To: <sip:alice@example.test>`, `Call-ID: bf${i}`, `CSeq: 1 REGISTER`, `Contact: <sip:alice@${ip}>`, "Content-Length: 0"]), 1))[0]!;
      const nonce = /nonce="([^"]+)"/.exec(nonceRes)![1]!;
      const response = digestResponse("MD5", computeHa1("MD5", "alice", "example.test", `guess${i}`), nonce, "REGISTER", "sip:example.test", { qop: "auth", nc: "00000001", cnonce: "x" });
      const auth = `Authorization: Digest username="alice", realm="example.test", nonce="${nonce}", uri="sip:example.test", response="${response}", algorithm=MD5, qop=auth, nc=00000001, cnonce="x"`;
      const [res] = await udp(ip, msg([`REGISTER sip:example.test SIP/2.0`, `Via: SIP/2.0/UDP ${ip}:5999;branch=z9hG4bKbf${i}b`, `From: <sip:alice@example.test>;tag=1`, `To: <sip:alice@example.test>`, `Call-ID: bf${i}`, `CSeq: 2 REGISTER`, `Contact: <sip:alice@${ip}>`, auth, "Content-Length: 0"]), 1);
      assert.match(res!, /^SIP\/2\.0 401/);
    }
    assert.equal(server.proxy.guard.isBanned(ip), false, "unauthenticated UDP alone never bans");
    assert.equal(server.proxy.guard.isThrottled("udp", ip), true);
    assert.match((await udp(testIp(8, 14), options("z9hG4bKother"), 1))[0]!, /^SIP\/2\.0 200/, "others are still served");
  });

  it("drops a flood from one source beyond its rate", async () => {
    const ip = testIp(8, 15);
    const sock = dgram.createSocket("udp4");
    let answers = 0;
    sock.on("message", () => answers++);
    await new Promise<void>((r) => sock.bind(0, ip, () => r()));
    const started = performance.now();
    for (let i = 0; i < 200; i++) sock.send(options(`z9hG4bKflood${i}`), udpPort, HOST);
    await waitFor(() => server.proxy.guard.counters.dropped >= 100, { message: "flood dropped" });
    // The bucket (burst 50, 50/s) refills while the flood is sent and read: on a loaded machine that takes a while.
    const allowed = 50 + Math.ceil((50 * (performance.now() - started)) / 1000) + 5;
    sock.close();
    assert.ok(answers <= allowed, `answered ${answers} of 200 (at most ${allowed})`);
  });

  it("closes a TCP connection that sends a message without Content-Length, and keeps serving", async () => {
    const closed = await new Promise<string>((resolve) => {
      const s = net.connect(tcpPort, HOST, () => s.write(`OPTIONS sip:example.test SIP/2.0\r\nVia: SIP/2.0/TCP ${testIp(8, 16)};branch=z9hG4bKnocl\r\n\r\n`));
      let text = "";
      s.setEncoding("utf8").on("data", (d: string) => (text += d));
      s.on("close", () => resolve(text));
    });
    assert.equal(closed, "");
    const pong = await new Promise<string>((resolve) => {
      const s = net.connect(tcpPort, HOST, () => s.write("\r\n\r\n"));
      s.setEncoding("utf8").once("data", (d: string) => {
        s.destroy();
        resolve(d);
      });
    });
    assert.equal(pong, "\r\n", "RFC 5626 CRLF keepalive answered");
  });

  it("speaks SIP over WebSocket (RFC 7118)", async () => {
    const ws = new WebSocket(`ws://${HOST}:${wsPort}`, "sip");
    await new Promise<void>((r, j) => {
      ws.once("open", () => r());
      ws.once("error", j);
    });
    assert.equal(ws.protocol, "sip");
    const got = new Promise<string>((r) => ws.once("message", (d: Buffer) => r(d.toString())));
    ws.send(options("z9hG4bKws1").toString().replace("SIP/2.0/UDP", "SIP/2.0/WS"));
    assert.match(await got, /^SIP\/2\.0 200 OK/);
    ws.close();
  });
});
