import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { silentLogger } from "../../src/base/index.js";
import { computeHa1, digestResponse, LocalLocation, MemoryCredentialStore, Registrar, SipServer } from "../../src/sip/index.js";
import { registerUdp, sipMessage, udpClient } from "../security/support.js";
import { waitFor } from "../support/wait-for.js";
import { testIp, testNet } from "../support/slot.js";

/**
 * issue-11 (a): one location store per node. A cluster node hands the SIP
 * server its location service (the distributed one); the proxy must read
 * bindings from that same service, not from a registrar of its own: a
 * request sent straight to a registered contact (no Route) leaves on the
 * client's flow, found through `byContact`.
 */
describe("one location service per node", () => {
  const HOST = testIp(170, 1);
  const DOMAIN = "example.test";
  let server: SipServer;
  let port = 0;
  const registrar = new Registrar();
  const location = new LocalLocation(registrar, () => Date.now());

  before(async () => {
    const credentials = new MemoryCredentialStore(DOMAIN);
    credentials.set("alice", { password: "alice-secret" });
    credentials.set("bob", { password: "bob-secret" });
    server = new SipServer({ logger: silentLogger, listen: [{ transport: "udp", host: HOST, port: 0 }], domains: [DOMAIN], credentials, algorithms: ["MD5"], location });
    await server.start();
    port = server.transport.bound()[0]!.boundPort;
  });
  after(() => server.stop());

  it("the proxy reads the location service it was given (registrations and contact lookups)", async () => {
    assert.equal(server.proxy.location, location);
    // alice registers from testIp(170, 2) with a Contact naming another address (a NAT rewrote her source).
    const alice = await udpClient(testIp(170, 2));
    try {
      const answer = await registerUdp({ ip: testIp(170, 2), to: { host: HOST, port }, user: "alice", password: "alice-secret", domain: DOMAIN, contacts: [`<sip:alice@${testNet(170)}.99:5999>`] });
      assert.match(answer, /^SIP\/2\.0 200/);
      assert.equal(registrar.store.size, 1, "the binding is in the store the node was given");
      // Re-register from alice's own socket so her binding's source is a port we listen on.
      const reg = await registerFrom(alice, "alice", "alice-secret", `<sip:alice@${testNet(170)}.99:5999>`);
      assert.match(reg, /^SIP\/2\.0 200/);
      // bob sends a MESSAGE straight to alice's contact URI (as in a dialog without Record-Route).
      const bob = await udpClient(testIp(170, 3));
      try {
        const target = `sip:alice@${testNet(170)}.99:5999`;
        const message = (cseq: number, auth: string[]) =>
          sipMessage([`MESSAGE ${target} SIP/2.0`, `Via: SIP/2.0/UDP ${testNet(170)}.3:${bob.port};branch=z9hG4bKloc${cseq};rport`, `From: <sip:bob@${DOMAIN}>;tag=b1`, `To: <${target}>`, "Call-ID: loc-msg-1", `CSeq: ${cseq} MESSAGE`, "Max-Forwards: 70", "Content-Type: text/plain", ...auth], "hi");
        bob.socket.send(message(1, []), port, HOST);
        await waitFor(() => bob.got.some((m) => /^SIP\/2\.0 407/.test(m)), { message: "407 challenge" });
        const challenge = bob.got.find((m) => /^SIP\/2\.0 407/.test(m))!;
        const nonce = /nonce="([^"]+)"/.exec(challenge)![1]!;
        const response = digestResponse("MD5", computeHa1("MD5", "bob", DOMAIN, "bob-secret"), nonce, "MESSAGE", target, { qop: "auth", nc: "00000001", cnonce: "b0b" });
        bob.socket.send(message(2, [`Proxy-Authorization: Digest username="bob", realm="${DOMAIN}", nonce="${nonce}", uri="${target}", response="${response}", algorithm=MD5, qop=auth, nc=00000001, cnonce="b0b"`]), port, HOST);
        // The binding's flow is alice's socket: the MESSAGE reaches her there, not testIp(170, 99).
        await waitFor(() => alice.got.some((m) => m.startsWith("MESSAGE ")), { message: "MESSAGE delivered on alice's flow" });
      } finally {
        bob.close();
      }
    } finally {
      alice.close();
    }

    async function registerFrom(c: Awaited<ReturnType<typeof udpClient>>, user: string, password: string, contact: string): Promise<string> {
      const callId = `loc-reg-${user}`;
      const request = (cseq: number, auth: string[]) =>
        sipMessage([`REGISTER sip:${DOMAIN} SIP/2.0`, `Via: SIP/2.0/UDP ${testNet(170)}.2:${c.port};branch=z9hG4bKlr${cseq};rport`, `From: <sip:${user}@${DOMAIN}>;tag=r${cseq}`, `To: <sip:${user}@${DOMAIN}>`, `Call-ID: ${callId}`, `CSeq: ${cseq} REGISTER`, "Max-Forwards: 70", "Expires: 600", `Contact: ${contact}`, ...auth]);
      c.socket.send(request(1, []), port, HOST);
      await waitFor(() => c.got.length >= 1, { message: "REGISTER challenge" });
      const nonce = /nonce="([^"]+)"/.exec(c.got[0]!)![1]!;
      const uri = `sip:${DOMAIN}`;
      const response = digestResponse("MD5", computeHa1("MD5", user, DOMAIN, password), nonce, "REGISTER", uri, { qop: "auth", nc: "00000001", cnonce: "a11ce" });
      c.socket.send(request(2, [`Authorization: Digest username="${user}", realm="${DOMAIN}", nonce="${nonce}", uri="${uri}", response="${response}", algorithm=MD5, qop=auth, nc=00000001, cnonce="a11ce"`]), port, HOST);
      await waitFor(() => c.got.length >= 2, { message: "REGISTER answer" });
      const answer = c.got[1]!;
      c.got.length = 0;
      return answer;
    }
  });
});
