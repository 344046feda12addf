import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Baresip } from "../support/baresip.js";
import { startThor, type ThorProcess } from "../support/processes.js";
import { waitFor } from "../support/wait-for.js";
import { testIp } from "../support/slot.js";

/**
 * Real user agents: two baresip processes (headless, driven over
 * ctrl_tcp) register with digest authentication against `thor sip` over
 * UDP, alice calls bob (auto-answer), the call is established on both
 * sides and alice hangs up. testIp(40, 0)/24.
 * The server offers MD5 only: baresip 1.0 (Debian bookworm) fails a
 * REGISTER with "Function not implemented" as soon as one of the
 * challenges is SHA-256, even when an MD5 one follows.
 */
const SERVER = testIp(40, 2);
const DOMAIN = "example.test";
/** baresip colours its console answers. */
const plain = (s: string | undefined) => (s ?? "").replace(/\u001b\[[0-9;]*m/g, "");

describe("thor sip with baresip user agents", () => {
  let dir: string;
  let server: ThorProcess;
  let alice: Baresip;
  let bob: Baresip;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "thor-baresip-"));
    const users = join(dir, "users.toml");
    writeFileSync(users, ["alice", "bob"].map((u) => `[[users]]\nusername = "${u}"\npassword = "${u}-secret"\n`).join("\n"));
    server = startThor("sip-baresip", ["sip", "--domain", DOMAIN, "--listen", `udp:${SERVER}:5060,tcp:${SERVER}:5060`, "--users", users, "--algorithms", "MD5"]);
    await server.waitForLog((l) => l.msg === "SIP server ready", 15_000, "SIP server ready");
    const account = (user: string, extra = "") => `<sip:${user}@${DOMAIN}>;auth_pass=${user}-secret;outbound="sip:${SERVER}:5060;transport=udp";regint=600${extra}`;
    alice = new Baresip({ name: "alice", dir, ip: testIp(40, 50), sipPort: 5060, ctrlPort: 4444, account: account("alice"), rtpPorts: [20000, 20019] });
    bob = new Baresip({ name: "bob", dir, ip: testIp(40, 51), sipPort: 5060, ctrlPort: 4444, account: account("bob", ";answermode=auto"), rtpPorts: [20020, 20039] });
    await Promise.all([alice.start(), bob.start()]);
  });

  after(async () => {
    await Promise.all([alice?.stop(), bob?.stop()]);
    await server?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it("both register with digest authentication", async () => {
    // Registration starts before our control connection is up (its REGISTER_OK event may be gone): ask for the state.
    for (const ua of [alice, bob]) {
      await waitFor(async () => /\bOK\b/.test(plain((await ua.command("reginfo")).data)), { timeoutMs: 15_000, message: `${ua.opts.name} registered\n${ua.log()}\n${server.describe()}` });
    }
    const reginfo = await alice.command("reginfo");
    assert.match(plain(reginfo.data), /sip:alice@example\.test +OK/);
    // Each REGISTER was first challenged, then accepted.
    assert.ok(!alice.events.some((e) => e.type === "REGISTER_FAIL"), alice.log());
  });

  it("alice calls bob through the proxy; bob answers; alice hangs up and both see the call end", async () => {
    const dial = await alice.command("dial", `sip:bob@${DOMAIN}`);
    assert.ok(dial.ok, `dial: ${dial.data}`);
    const describe = () => `alice:\n${alice.log()}\nbob:\n${bob.log()}\n${server.describe()}`;
    try {
      const answered = await alice.waitEvent("CALL_ESTABLISHED");
      assert.match(answered.peeruri ?? "", /bob@example\.test/);
      // bob answered automatically (answermode=auto): its side of the call is up too.
      const established = await bob.waitEvent("CALL_ESTABLISHED");
      assert.match(established.peeruri ?? "", /alice@example\.test/);
    } catch (err) {
      throw new Error(`${(err as Error).message}\n${describe()}`);
    }
    const hangup = await alice.command("hangup");
    assert.ok(hangup.ok, `hangup: ${hangup.data}`);
    try {
      await alice.waitEvent("CALL_CLOSED");
      const closed = await bob.waitEvent("CALL_CLOSED");
      // bob's side closed because a BYE came through the proxy, not by a timeout.
      assert.doesNotMatch(closed.param ?? "", /timeout/i);
    } catch (err) {
      throw new Error(`${(err as Error).message}\n${describe()}`);
    }
  });
});
