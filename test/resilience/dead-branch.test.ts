import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { createServer, type Server } from "node:net";
import type { SipServer } from "../../src/sip/index.js";
import { registerUdp, sipMessage, startSipServer, udpClient } from "../security/support.js";
import { waitFor } from "../support/wait-for.js";
import { testIp } from "../support/slot.js";

/**
 * Issue 15 item 2: a branch whose connection fails (refused, or closed
 * before an answer) fails at once with 503 for that branch (RFC 3261
 * 8.1.3.1, 16.7), instead of waiting 32 s for Timer B; and the listener it
 * registered on the connection is removed once the branch has its answer.
 * testIp(192, 0)/24.
 */
const HOST = testIp(192, 1);
const PHONE = testIp(192, 9);
const CALLER = testIp(192, 20);
const DOMAIN = "example.test";

describe("issue-15 item 2: a dead connection fails its branch at once", () => {
  let server: SipServer;
  let udpPort = 0;
  let closer: Server | undefined;
  before(async () => {
    const started = await startSipServer(HOST, ["udp", "tcp"], { timers: { t1: 500, t2: 4000, t4: 5000 } });
    server = started.server;
    udpPort = started.port.udp!;
  });
  after(async () => {
    closer?.close();
    await server.stop();
  });

  const invite = (port: number, callId: string) =>
    sipMessage([`INVITE sip:alice@${DOMAIN} SIP/2.0`, `Via: SIP/2.0/UDP ${CALLER}:${port};branch=z9hG4bK${callId};rport`, `From: <sip:carol@elsewhere.test>;tag=c1`, `To: <sip:alice@${DOMAIN}>`, `Call-ID: ${callId}`, "CSeq: 1 INVITE", "Max-Forwards: 70", `Contact: <sip:carol@${CALLER}:${port}>`]);

  async function call(callId: string): Promise<{ final: string; ms: number }> {
    const c = await udpClient(CALLER);
    try {
      const t0 = Date.now();
      c.socket.send(invite(c.port, callId), udpPort, HOST);
      const final = await waitFor(() => c.got.find((m) => /^SIP\/2\.0 [2-6]\d\d /.test(m)), { timeoutMs: 10_000, message: "a final answer to the INVITE" });
      return { final, ms: Date.now() - t0 };
    } finally {
      c.close();
    }
  }

  it("a refused TCP connection to the registered contact: 503 within a second, not 408 after Timer B", async () => {
    const reg = await registerUdp({ ip: PHONE, to: { host: HOST, port: udpPort }, user: "alice", password: "alice-secret", domain: DOMAIN, contacts: [`<sip:alice@${PHONE}:5999;transport=tcp>`] });
    assert.match(reg, /^SIP\/2\.0 200 /);
    const { final, ms } = await call("dead-tcp-1");
    assert.match(final, /^SIP\/2\.0 503 /, final);
    assert.ok(ms < 2000, `answered after ${ms} ms`);
  });

  it("a connection closed by the callee before it answers: 503 at once", async () => {
    // The callee accepts the connection, then drops it without a word.
    closer = createServer((s) => s.once("data", () => s.destroy()));
    await new Promise<void>((r) => closer!.listen(5998, PHONE, r));
    const reg = await registerUdp({ ip: PHONE, to: { host: HOST, port: udpPort }, user: "alice", password: "alice-secret", domain: DOMAIN, contacts: [`<sip:alice@${PHONE}:5998;transport=tcp>`], callId: "reg-closer", expires: 600 });
    assert.match(reg, /^SIP\/2\.0 200 /);
    const { final, ms } = await call("dead-tcp-2");
    assert.match(final, /^SIP\/2\.0 503 /, final);
    assert.ok(ms < 2000, `answered after ${ms} ms`);
  });
});
