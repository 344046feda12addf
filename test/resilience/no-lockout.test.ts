import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { CredentialsUnavailableError, MemoryCredentialStore, type AsyncCredentialStore, type ClusterHooks, type SipServer } from "../../src/sip/index.js";
import { Guard } from "../../src/sip/guard/index.js";
import type { Flow } from "../../src/sip/transport/index.js";
import { registerUdp, startSipServer, tcpClient } from "../security/support.js";
import { waitFor } from "../support/wait-for.js";
import { testIp, testNet } from "../support/slot.js";

/**
 * Issue 15 item 1: a node's own state never locks callers out. A node that
 * is starting (no membership, accounts not loaded) answers 503 with
 * Retry-After instead of 407/401; an account whose holders do not answer
 * gets 503, never a challenge, and neither counts as a failed login; a
 * penalty is lifted when the users whose failures caused it log in.
 * testIp(190, 0)/24.
 */
const HOST = testIp(190, 1);
const DOMAIN = "example.test";
const source = (transport: Flow["transport"], address: string) => ({ transport, remote: { address, port: 5060 } });

describe("issue-15 item 1: no lock-out by the platform's own state", () => {
  it("forgives a penalty once the users who caused it log in, but not for another account's login", () => {
    let now = 0;
    const guard = new Guard({ maxAuthFailures: 20, banMs: 300_000, penaltyRate: 1 }, () => now);
    // A shared, NATed UDP address: five phones refused four times each.
    const nat = source("udp", testIp(190, 10));
    for (let i = 0; i < 20; i++) guard.authFailure(nat, `phone${i % 5}`);
    assert.equal(guard.isThrottled("udp", nat.remote.address), true);
    guard.authSuccess(nat, "phone0");
    guard.authSuccess(nat, "phone1");
    assert.equal(guard.isThrottled("udp", nat.remote.address), true, "12 failures of users who did not log in yet remain (not under half of 20)");
    guard.authSuccess(nat, "phone2");
    assert.equal(guard.isThrottled("udp", nat.remote.address), false, "8 left: lifted");
    assert.equal(guard.counters.forgiven, 1);

    // A brute force against one account, by someone who owns another: their own login does not reset it.
    const attacker = source("tcp", testIp(190, 11));
    for (let i = 0; i < 20; i++) guard.authFailure(attacker, "victim");
    assert.equal(guard.isBanned(attacker.remote.address), true);
    guard.authSuccess(attacker, "mine");
    assert.equal(guard.isBanned(attacker.remote.address), true, "failures for the victim stay counted");
    // A ban admits at the penalty rate, counted from the ban: nothing at once, one a second after.
    assert.equal(guard.admit(attacker), false);
    now += 1000;
    assert.equal(guard.admit(attacker), true);
    assert.equal(guard.admit(attacker), false);
    // The victim's own phone, behind the same address, logs in: its failures are forgiven.
    guard.authSuccess(attacker, "victim");
    assert.equal(guard.isBanned(attacker.remote.address), false);
  });

  describe("on a running server", () => {
    let server: SipServer;
    let udpPort = 0;
    let tcpPort = 0;
    let state: "starting" | "draining" | undefined = "starting";
    before(async () => {
      const local = new MemoryCredentialStore(DOMAIN);
      local.set("alice", { password: "alice-secret" });
      // bob's holders never answer (they are restarting, or unreachable).
      const credentials: AsyncCredentialStore = {
        lookup: (username, realm) => {
          if (username === "bob") return Promise.reject(new CredentialsUnavailableError("no holder of bob answered"));
          return local.lookup(username, realm);
        },
      };
      const cluster: ClusterHooks = { self: "node1", edgeAddress: () => undefined, isPeer: () => false, unavailable: () => state };
      const started = await startSipServer(HOST, ["udp", "tcp"], { credentials, cluster, guard: { maxAuthFailures: 5, banMs: 300_000 } });
      server = started.server;
      udpPort = started.port.udp!;
      tcpPort = started.port.tcp!;
    });
    after(() => server.stop());

    it("answers 503 + Retry-After while starting, then serves; the refusals are no failed logins", async () => {
      for (let i = 0; i < 8; i++) {
        const answer = await registerUdp({ ip: testIp(190, 20), to: { host: HOST, port: udpPort }, user: "alice", password: "alice-secret", domain: DOMAIN, contacts: [`<sip:alice@${testNet(190)}.20:5062>`] });
        assert.match(answer, /^SIP\/2\.0 503 Service Unavailable \(starting\)\r\n/);
        assert.match(answer, /\r\nRetry-After: 5\r\n/i);
      }
      assert.equal(server.proxy.counters.authFailures, 0);
      assert.equal(server.proxy.guard.isThrottled("udp", testIp(190, 20)), false);
      state = undefined;
      const answer = await registerUdp({ ip: testIp(190, 20), to: { host: HOST, port: udpPort }, user: "alice", password: "alice-secret", domain: DOMAIN, contacts: [`<sip:alice@${testNet(190)}.20:5062>`] });
      assert.match(answer, /^SIP\/2\.0 200 /);
    });

    it("answers 503 when the account's holders do not answer, over TCP too, and never bans for it", async () => {
      state = undefined;
      const ip = testIp(190, 21);
      const c = await tcpClient(ip, { host: HOST, port: tcpPort });
      const { computeHa1, digestResponse } = await import("../../src/sip/index.js");
      let seen = 0;
      const next = async () => {
        await waitFor(() => c.text().split("SIP/2.0 ").length - 1 > seen, { timeoutMs: 3000, message: "answer" });
        seen++;
        return c.text().split(/(?=SIP\/2\.0 \d{3} )/)[seen - 1]!;
      };
      const register = (i: number, auth: string[] = []) =>
        [`REGISTER sip:${DOMAIN} SIP/2.0`, `Via: SIP/2.0/TCP ${ip}:5999;branch=z9hG4bKbob${i}-${auth.length};rport`, `From: <sip:bob@${DOMAIN}>;tag=1`, `To: <sip:bob@${DOMAIN}>`, `Call-ID: bob${i}`, `CSeq: ${auth.length + 1} REGISTER`, "Max-Forwards: 70", `Contact: <sip:bob@${ip}>`, ...auth, "Content-Length: 0", "", ""].join("\r\n");
      for (let i = 0; i < 10; i++) {
        c.socket.write(register(i));
        const nonce = /nonce="([^"]+)"/.exec(await next())![1]!;
        const response = digestResponse("MD5", computeHa1("MD5", "bob", DOMAIN, "bob-secret"), nonce, "REGISTER", `sip:${DOMAIN}`, { qop: "auth", nc: "00000001", cnonce: "x" });
        c.socket.write(register(i, [`Authorization: Digest username="bob", realm="${DOMAIN}", nonce="${nonce}", uri="sip:${DOMAIN}", response="${response}", algorithm=MD5, qop=auth, nc=00000001, cnonce="x"`]));
        const answer = await next();
        assert.match(answer, /^SIP\/2\.0 503 Service Unavailable \(account holders unreachable\)\r\n/);
        assert.match(answer, /\r\nRetry-After: 5\r\n/i);
      }
      assert.equal(server.proxy.guard.isBanned(ip), false, "10 refusals of our own making, with a ban threshold of 5: no ban");
      assert.equal(server.proxy.counters.authFailures, 0);
      c.socket.destroy();
    });
  });
});
