import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import net from "node:net";
import type { SipServer } from "../../src/sip/index.js";
import { waitFor } from "../support/wait-for.js";
import { options, startSipServer, tcpClient } from "./support.js";
import { testIp } from "../support/slot.js";

/**
 * Issue 10 item 5: RFC 5923 connection reuse is granted only on mutually
 * authenticated TLS. An unauthenticated TCP client that names another
 * address in `Via: ...;alias` must not receive what is later sent to that
 * address.
 */
const HOST = testIp(111, 1);
const ATTACKER = testIp(111, 2);
const VICTIM = testIp(111, 3);

describe("issue-10 item 5: alias hijack (RFC 5923)", () => {
  let server: SipServer;
  let tcpPort = 0;
  let victim: net.Server;
  let victimPort = 0;
  const victimGot: string[] = [];

  before(async () => {
    const started = await startSipServer(HOST, ["tcp"]);
    server = started.server;
    tcpPort = started.port.tcp!;
    victim = net.createServer((s) => s.setEncoding("latin1").on("data", (d: string) => victimGot.push(d)));
    await new Promise<void>((r) => victim.listen(0, VICTIM, () => r()));
    victimPort = (victim.address() as net.AddressInfo).port;
  });
  after(async () => {
    await server.stop();
    await new Promise<void>((r) => victim.close(() => r()));
  });

  it("an unauthenticated TCP client sending Via ;alias for another address captures nothing sent there", async () => {
    const attacker = await tcpClient(ATTACKER, { host: HOST, port: tcpPort });
    try {
      const request = options(VICTIM, "alias1", "TCP").toString("latin1").replace(`Via: SIP/2.0/TCP ${VICTIM}:5999;`, `Via: SIP/2.0/TCP ${VICTIM}:${victimPort};alias;`);
      attacker.socket.write(request);
      await waitFor(() => /^SIP\/2\.0 200/.test(attacker.text()), { timeoutMs: 3000, message: "200 to the attacker's OPTIONS" });
      const answered = attacker.text().length;
      const flow = server.transport.sendTo({ transport: "tcp", address: VICTIM, port: victimPort }, Buffer.from("OPTIONS sip:victim SIP/2.0\r\nContent-Length: 0\r\n\r\n"));
      assert.ok(flow, "sent");
      await waitFor(() => victimGot.join("").includes("OPTIONS sip:victim"), { timeoutMs: 3000, message: "the message reaches the real address" });
      assert.equal(attacker.text().length, answered, "nothing more on the attacker's connection");
      assert.notEqual(flow.remote.address, ATTACKER);
    } finally {
      attacker.socket.destroy();
    }
  });
});
