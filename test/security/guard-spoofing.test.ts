import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { computeHa1, digestResponse, Guard, type Flow, type SipServer } from "../../src/sip/index.js";
import { waitFor } from "../support/wait-for.js";
import { options, sipMessage, startSipServer, tcpClient, udpExchange } from "./support.js";
import { testIp } from "../support/slot.js";

/**
 * Issue 10 item 9: the rate limiter and the brute-force bans key sources
 * by transport and address; unauthenticated UDP alone (whose source
 * address anyone can forge) never bans an address, and members' flows on
 * the internal listener are never limited.
 */
const HOST = testIp(111, 40);
const DOMAIN = "example.test";

const source = (transport: Flow["transport"], address: string, peer?: string) => ({ transport, remote: { address, port: 5060 }, ...(peer !== undefined ? { peer } : {}) });

describe("issue-10 item 9: guard spoofing", () => {
  it("keeps one bucket per transport and address, and never limits an authenticated member flow", () => {
    let now = 0;
    const guard = new Guard({ rate: 1, burst: 2, maxAuthFailures: 3, banMs: 1000 }, () => now);
    assert.equal(guard.admit(source("udp", testIp(111, 41))), true);
    assert.equal(guard.admit(source("udp", testIp(111, 41))), true);
    assert.equal(guard.admit(source("udp", testIp(111, 41))), false, "UDP bucket empty");
    assert.equal(guard.admit(source("tcp", testIp(111, 41))), true, "the TCP bucket of the same address is its own");
    for (let i = 0; i < 10; i++) assert.equal(guard.admit(source("tls", testIp(111, 41), "node2")), true, "member flow never limited");
    // Bans: connection-oriented failures ban the address; members are exempt even then.
    for (let i = 0; i < 3; i++) guard.authFailure(source("tcp", testIp(111, 42)));
    assert.equal(guard.isBanned(testIp(111, 42)), true);
    assert.equal(guard.admit(source("udp", testIp(111, 42))), false, "a proven source is banned on every public transport");
    assert.equal(guard.admit(source("tls", testIp(111, 42), "node3")), true);
    now += 1001;
    assert.equal(guard.isBanned(testIp(111, 42)), false, "bans expire");
    // UDP failures only throttle that address's UDP bucket.
    for (let i = 0; i < 3; i++) assert.notEqual(guard.authFailure(source("udp", testIp(111, 43))), "ban");
    assert.equal(guard.isBanned(testIp(111, 43)), false);
    assert.equal(guard.isThrottled("udp", testIp(111, 43)), true);
    assert.equal(guard.admit(source("tcp", testIp(111, 43))), true);
  });

  describe("on a running server", () => {
    let server: SipServer;
    let udpPort = 0;
    let tcpPort = 0;
    before(async () => {
      const started = await startSipServer(HOST, ["udp", "tcp"], { guard: { maxAuthFailures: 20, banMs: 300_000 } });
      server = started.server;
      udpPort = started.port.udp!;
      tcpPort = started.port.tcp!;
    });
    after(() => server.stop());

    const register = (ip: string, transport: "UDP" | "TCP", i: number, auth: string[] = []) =>
      sipMessage([`REGISTER sip:${DOMAIN} SIP/2.0`, `Via: SIP/2.0/${transport} ${ip}:5999;branch=z9hG4bKsp${transport}${i}${auth.length};rport`, `From: <sip:alice@${DOMAIN}>;tag=1`, `To: <sip:alice@${DOMAIN}>`, `Call-ID: spoof${transport}${i}`, `CSeq: ${auth.length + 1} REGISTER`, `Contact: <sip:alice@${ip}>`, ...auth]);
    const badAuth = (nonce: string, i: number) => {
      const response = digestResponse("MD5", computeHa1("MD5", "alice", DOMAIN, `guess${i}`), nonce, "REGISTER", `sip:${DOMAIN}`, { qop: "auth", nc: "00000001", cnonce: "x" });
      return [`Authorization: Digest username="alice", realm="${DOMAIN}", nonce="${nonce}", uri="sip:${DOMAIN}", response="${response}", algorithm=MD5, qop=auth, nc=00000001, cnonce="x"`];
    };

    it("20 bad-digest UDP REGISTERs 'from' an address do not ban it: its TCP traffic is still served", async () => {
      const peer = testIp(111, 44);
      for (let i = 0; i < 20; i++) {
        const [challenge] = await udpExchange(peer, register(peer, "UDP", i), { host: HOST, port: udpPort });
        const nonce = /nonce="([^"]+)"/.exec(challenge!)![1]!;
        const [answer] = await udpExchange(peer, register(peer, "UDP", i, badAuth(nonce, i)), { host: HOST, port: udpPort });
        assert.match(answer!, /^SIP\/2\.0 401/);
      }
      assert.equal(server.proxy.guard.isBanned(peer), false);
      assert.equal(server.proxy.guard.isThrottled("udp", peer), true, "the UDP source is throttled instead");
      const c = await tcpClient(peer, { host: HOST, port: tcpPort });
      c.socket.write(options(peer, "afterspoof", "TCP"));
      await waitFor(() => /^SIP\/2\.0 200/.test(c.text()), { timeoutMs: 3000, message: "TCP OPTIONS from the spoofed address answered" });
      c.socket.destroy();
    });

    it("20 bad-digest REGISTERs over TCP (a proven source) ban the address", async () => {
      const ip = testIp(111, 45);
      const c = await tcpClient(ip, { host: HOST, port: tcpPort });
      let seen = 0;
      const nextAnswer = async (): Promise<string> => {
        await waitFor(() => c.text().split("SIP/2.0 ").length - 1 > seen, { timeoutMs: 3000, message: "answer" });
        seen++;
        return c.text().split(/(?=SIP\/2\.0 \d{3} )/)[seen - 1]!;
      };
      for (let i = 0; i < 20; i++) {
        c.socket.write(register(ip, "TCP", i));
        const nonce = /nonce="([^"]+)"/.exec(await nextAnswer())![1]!;
        c.socket.write(register(ip, "TCP", i, badAuth(nonce, i)));
        assert.match(await nextAnswer(), /^SIP\/2\.0 401/);
      }
      assert.equal(server.proxy.guard.isBanned(ip), true);
      c.socket.destroy();
    });
  });
});
