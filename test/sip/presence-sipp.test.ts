import { after, afterEach, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startThor, type ThorProcess } from "../support/processes.js";
import { describeRun, sipp, stopSipp } from "../support/sipp.js";
import { PresenceUa, pidf } from "../support/presence-ua.js";
import { testIp, testNet } from "../support/slot.js";

/**
 * Presence against SIPp (issue 14): the single-node `thor sip` on
 * testIp(150, 0)/24 as notifier and presence agent: SUBSCRIBE with digest,
 * refresh and unsubscribe; PUBLISH, refresh by SIP-If-Match, 412 on a
 * stale tag, removal; refused SUBSCRIBEs (489, 423, 400).
 */
const SERVER = testIp(150, 30);
const PROXY = `${SERVER}:5060`;
const DOMAIN = "example.test";

describe("presence with SIPp", () => {
  let dir: string;
  let server: ThorProcess;
  const keys = (user: string, callee: string) => ({ user, pass: `${user}-secret`, domain: DOMAIN, callee });

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "thor-presence-"));
    const users = join(dir, "users.toml");
    writeFileSync(users, ["alice", "bob", "carol"].map((u) => `[[users]]\nusername = "${u}"\npassword = "${u}-secret"\n`).join("\n"));
    server = startThor("sip", ["sip", "--domain", DOMAIN, "--listen", `udp:${SERVER}:5060`, "--users", users, "--algorithms", "MD5", "--presence-without-rules", "allow"]);
    await server.waitForLog((l) => l.msg === "SIP server ready", 15_000, "SIP server ready");
  });

  // A failed test leaves no SIPp bound to its ports.
  afterEach(stopSipp);
  after(async () => {
    await server?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it("a watcher subscribes, refreshes and unsubscribes (immediate and final NOTIFYs)", async () => {
    const r = await sipp({ scenario: "presence-subscribe.xml", localIp: testIp(150, 31), localPort: 5061, remote: PROXY, keys: keys("bob", "alice") }).done;
    assert.equal(r.code, 0, describeRun("subscribe", r));
  });

  it("a publisher publishes, refreshes by SIP-If-Match, gets 412 for a stale tag and removes; a watcher sees the publication", async () => {
    const watcher = new PresenceUa(testIp(150, 32), "carol", DOMAIN, "carol-secret", { host: SERVER, port: 5060 });
    await watcher.start();
    try {
      assert.equal((await watcher.subscribe(`alice@${DOMAIN}`)).status, 200);
      const r = await sipp({ scenario: "presence-publish.xml", localIp: testIp(150, 33), localPort: 5062, remote: PROXY, keys: keys("alice", "alice") }).done;
      assert.equal(r.code, 0, describeRun("publish", r));
      await watcher.waitNotify((n) => n.body.includes("published by SIPp"), "the NOTIFY with SIPp's publication");
      // The removal leaves alice offline again.
      const last = await watcher.waitNotify((n) => n.cseq > 2 && !n.body.includes("published by SIPp"), "the offline document after the removal");
      assert.match(last.body, /<basic>closed<\/basic>/);
      assert.equal((await watcher.publish(pidf(`sip:carol@${DOMAIN}`, "open"))).status, 200, "carol publishes her own");
    } finally {
      watcher.close();
    }
  });

  for (const [name, template] of [
    ["489 Bad Event with Allow-Events", { STATUS: "489", EVENT_NAME: "message-summary", EXPIRES_VALUE: "600", CONTACT_LINE: `Contact: <sip:bob@${testNet(150)}.34:5063>`, MSG_REGEXP: "Allow-Events: presence" }],
    ["423 Interval Too Brief with Min-Expires", { STATUS: "423", EVENT_NAME: "presence", EXPIRES_VALUE: "5", CONTACT_LINE: `Contact: <sip:bob@${testNet(150)}.34:5063>`, MSG_REGEXP: "Min-Expires: 60" }],
    ["400 without a Contact, with the reason", { STATUS: "400", EVENT_NAME: "presence", EXPIRES_VALUE: "600", CONTACT_LINE: "Subject: no contact", MSG_REGEXP: "needs one SIP Contact" }],
  ] as const) {
    it(`refuses a SUBSCRIBE: ${name}`, async () => {
      const r = await sipp({ scenario: "presence-refused.xml", template, localIp: testIp(150, 34), localPort: 5063, remote: PROXY, keys: keys("bob", "alice") }).done;
      assert.equal(r.code, 0, describeRun(name, r));
    });
  }
});
