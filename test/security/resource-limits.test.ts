import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { WebSocket } from "ws";
import type { SipServer } from "../../src/sip/index.js";
import { MemoryLogger } from "../support/memory-logger.js";
import { waitFor } from "../support/wait-for.js";
import { options, registerUdp, sipMessage, startSipServer, tcpClient, udpClient } from "./support.js";
import { testIp, testNet } from "../support/slot.js";

/**
 * Issue 10 item 8: connection caps (total and per address), a short
 * deadline for a message once begun, an idle timeout, closed WebSocket
 * connections forgotten, contacts per AOR capped, every message (responses
 * and malformed ones too) through the rate limiter, and stray responses
 * never bounced to the address their second Via names.
 */
const HOST = testIp(111, 10);
const DOMAIN = "example.test";

describe("issue-10 item 8: resource limits of public SIP", () => {
  let server: SipServer;
  const logger = new MemoryLogger();
  const port = { udp: 0, tcp: 0, ws: 0 };
  const tcp = () => ({ host: HOST, port: port.tcp });
  const udp = () => ({ host: HOST, port: port.udp });

  before(async () => {
    const started = await startSipServer(HOST, ["udp", "tcp", "ws"], {
      registrar: { maxContacts: 3 },
      guard: { rate: 5, burst: 5 },
      connectionLimits: { maxConnections: 6, maxConnectionsPerIp: 3, headerTimeoutMs: 400, idleMs: 2000 },
      logger,
    });
    server = started.server;
    Object.assign(port, started.port);
  });
  after(() => server.stop());

  async function allClosed(): Promise<void> {
    await waitFor(() => server.transport.acceptedConnections === 0, { timeoutMs: 5000, message: "every accepted connection released" });
  }

  it("caps connections per address, and in total", async () => {
    const mine = await Promise.all([1, 2, 3].map(() => tcpClient(testIp(111, 11), tcp())));
    const fourth = await tcpClient(testIp(111, 11), tcp());
    await waitFor(() => fourth.closed(), { timeoutMs: 3000, message: "the 4th connection from one address is closed" });
    const other = await tcpClient(testIp(111, 12), tcp());
    const more = await Promise.all([1, 2].map(() => tcpClient(testIp(111, 13), tcp())));
    // 6 open now: the 7th is refused whatever its address.
    const seventh = await tcpClient(testIp(111, 14), tcp());
    await waitFor(() => seventh.closed(), { timeoutMs: 3000, message: "the connection over the total cap is closed" });
    assert.ok([...mine, other, ...more].every((c) => !c.closed()), "connections within the caps stay open");
    assert.ok(server.transport.stats.connectionsRefused >= 2);
    for (const c of [...mine, other, ...more]) c.socket.destroy();
    await allClosed();
  });

  it("closes a connection whose message is not complete within the header timeout, and idle connections after the idle timeout", async () => {
    const partial = await tcpClient(testIp(111, 15), tcp());
    const silent = await tcpClient(testIp(111, 15), tcp());
    const served = await tcpClient(testIp(111, 16), tcp());
    partial.socket.write(`OPTIONS sip:example.test SIP/2.0\r\nVia: SIP/2.0/TCP ${testIp(111, 15)}:5999;branch=z9hG4bKpartial\r\n`);
    served.socket.write(options(testIp(111, 16), "served", "TCP"));
    await waitFor(() => /^SIP\/2\.0 200/.test(served.text()), { timeoutMs: 3000, message: "200 on the complete connection" });
    await waitFor(() => partial.closed() && silent.closed(), { timeoutMs: 10_000, message: "partial and silent connections closed" });
    // Closed by the header timeout (400 ms), not the idle timeout (2 s): the server says why, for both.
    const headerTimeouts = logger.entries.filter((e) => e.msg === "SIP message not complete within the header timeout, closing connection" && String(e.fields["remote"]).startsWith(`${testIp(111, 15)}:`));
    assert.deepEqual(headerTimeouts.map((e) => Number(e.fields["buffered"]) > 0).sort(), [false, true], "one silent, one with a partial message");
    assert.equal(served.closed(), false, "a connection that completed its message stays open past the header timeout");
    await waitFor(() => served.closed(), { timeoutMs: 6000, message: "the idle connection closed after the idle timeout" });
    await allClosed();
  });

  it("forgets closed WebSocket connections", async () => {
    const before = server.transport.open;
    for (let i = 0; i < 8; i++) {
      const ws = new WebSocket(`ws://${HOST}:${port.ws}`, "sip", { localAddress: testIp(111, 17) });
      await new Promise<void>((resolve, reject) => ws.once("open", () => resolve()).once("error", reject));
      ws.close();
      await new Promise<void>((resolve) => ws.once("close", () => resolve()));
    }
    await waitFor(() => server.transport.open.connections === before.connections && server.transport.open.flows === before.flows, { timeoutMs: 5000, message: `connections and flows back to ${JSON.stringify(before)} (now ${JSON.stringify(server.transport.open)})` });
    await allClosed();
  });

  it("caps the contacts of one AOR (503 with the reason), counting refreshes and removals", async () => {
    const reg = (ip: string, contacts: string[], callId: string) => registerUdp({ ip, to: udp(), user: "alice", password: "alice-secret", domain: DOMAIN, contacts, callId });
    assert.match(await reg(testIp(111, 18), [`<sip:alice@${testNet(111)}.18:5060>`, `<sip:alice@${testNet(111)}.18:5061>`], "mc1"), /^SIP\/2\.0 200/);
    assert.match(await reg(testIp(111, 19), [`<sip:alice@${testNet(111)}.19:5060>`], "mc2"), /^SIP\/2\.0 200/);
    const over = await reg(testIp(111, 20), [`<sip:alice@${testNet(111)}.20:5060>`], "mc3");
    assert.match(over, /^SIP\/2\.0 503 Service Unavailable \(too many registered contacts, at most 3\)/);
    // A refresh of a held contact, and a swap (one removed, one added), are within the cap.
    assert.match(await reg(testIp(111, 21), [`<sip:alice@${testNet(111)}.19:5060>`], "mc2b"), /^SIP\/2\.0 200/);
    assert.match(await reg(testIp(111, 22), [`<sip:alice@${testNet(111)}.18:5061>;expires=0`, `<sip:alice@${testNet(111)}.22:5060>`], "mc4"), /^SIP\/2\.0 200/);
    assert.equal(server.proxy.location.store.lookup(`alice@${DOMAIN}`, Date.now()).length, 3);
  });

  it("rate-limits malformed messages and responses like requests", async () => {
    const bad = (i: number) => sipMessage([`OPTIONS sip:example.test SIP/2.0`, `Via: SIP/2.0/UDP ${testNet(111)}.23:5999;branch=z9hG4bKbad${i}`, `From: <sip:a@elsewhere.test>;tag=1`, `To: <sip:example.test>`, `Call-ID: bad${i}`, `CSeq: 1 INVITE`]);
    const c = await udpClient(testIp(111, 23));
    const refused0 = server.transport.stats.refused;
    try {
      for (let i = 0; i < 30; i++) c.socket.send(bad(i), port.udp, HOST);
      await waitFor(() => server.transport.stats.refused - refused0 >= 20, { timeoutMs: 3000, message: "malformed flood refused" });
      assert.ok(c.got.length <= 8, `answered ${c.got.length} of 30 malformed requests`);
      const response = (i: number) => sipMessage([`SIP/2.0 180 Ringing`, `Via: SIP/2.0/UDP ${HOST}:${port.udp};branch=z9hG4bK-none${i}`, `From: <sip:a@elsewhere.test>;tag=1`, `To: <sip:b@example.test>;tag=2`, `Call-ID: resp${i}`, `CSeq: 1 INVITE`]);
      const r = await udpClient(testIp(111, 24));
      const refused1 = server.transport.stats.refused;
      for (let i = 0; i < 30; i++) r.socket.send(response(i), port.udp, HOST);
      await waitFor(() => server.transport.stats.refused - refused1 >= 20, { timeoutMs: 3000, message: "response flood refused" });
      r.close();
    } finally {
      c.close();
    }
  });

  it("drops a stray response instead of bouncing it to the address its second Via names", async () => {
    const victim = await udpClient(testIp(111, 25));
    const attacker = await udpClient(testIp(111, 26));
    try {
      const strays = server.proxy.counters.strays;
      attacker.socket.send(
        sipMessage([`SIP/2.0 200 OK`, `Via: SIP/2.0/UDP ${HOST}:${port.udp};branch=z9hG4bK-tbounce`, `Via: SIP/2.0/UDP ${testNet(111)}.25:${victim.port};branch=z9hG4bKvictim`, `From: <sip:a@elsewhere.test>;tag=1`, `To: <sip:b@example.test>;tag=2`, `Call-ID: bounce`, `CSeq: 1 INVITE`], "x".repeat(1000)),
        port.udp,
        HOST,
      );
      await waitFor(() => server.proxy.counters.strays > strays, { timeoutMs: 3000, message: "stray counted" });
      // What the proxy would have bounced would have left before it answers the victim's own request.
      victim.socket.send(options(testIp(111, 25), "afterbounce"), port.udp, HOST);
      await waitFor(() => victim.got.some((m) => m.includes("afterbounce")), { timeoutMs: 3000, message: "victim's own OPTIONS answered" });
      assert.deepEqual(victim.got.filter((m) => m.includes("Call-ID: bounce")), []);
    } finally {
      victim.close();
      attacker.close();
    }
  });
});
