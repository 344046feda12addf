import { after, afterEach, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startThor, type ThorProcess } from "../support/processes.js";
import { describeRun, sipp, stopSipp, waitBound } from "../support/sipp.js";
import { testIp, testNet } from "../support/slot.js";

/**
 * The single-node SIP server against real SIPp agents over UDP and TCP on
 * testIp(7, 0)/24: registration with digest auth, calls through the proxy,
 * busy, cancel, timeout, OPTIONS. T1 is 50 ms so Timer B fires after 3.2 s.
 */
const SERVER = testIp(7, 1);
const PROXY = `${SERVER}:5060`;
const DOMAIN = "example.test";

describe("thor sip with SIPp", () => {
  let dir: string;
  let server: ThorProcess;
  const keys = (user: string, extra: Record<string, string> = {}) => ({ user, pass: `${user}-secret`, domain: DOMAIN, ...extra });

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "thor-sip-"));
    const users = join(dir, "users.toml");
    writeFileSync(users, ["alice", "bob", "carol", "dave", "erin"].map((u) => `[[users]]\nusername = "${u}"\npassword = "${u}-secret"\n`).join("\n"));
    server = startThor("sip", ["sip", "--domain", DOMAIN, "--listen", `udp:${SERVER}:5060,tcp:${SERVER}:5060`, "--users", users, "--t1-ms", "50", "--min-expires", "10", "--algorithms", "MD5,SHA-256"]);
    await server.waitForLog((l) => l.msg === "SIP server ready", 15_000, "SIP server ready");
  });

  // A failed test leaves no SIPp bound to its ports.
  afterEach(stopSipp);
  after(async () => {
    await server?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  async function register(user: string, ip: string, port: number, contact: string, expires = "3600", transport: "u1" | "t1" = "u1"): Promise<void> {
    const r = await sipp({ scenario: "register.xml", localIp: ip, localPort: port, transport, remote: PROXY, keys: keys(user, { contact, expires }) }).done;
    assert.equal(r.code, 0, describeRun(`register ${user}`, r));
  }

  it("answers OPTIONS to itself", async () => {
    const r = await sipp({ scenario: "options.xml", localIp: testIp(7, 10), localPort: 5060, remote: PROXY, keys: keys("x") }).done;
    assert.equal(r.code, 0, describeRun("options", r));
  });

  it("registers with digest authentication, refreshes and unregisters; a wrong password is refused", async () => {
    await register("alice", testIp(7, 11), 5061, `sip:alice@${testNet(7)}.11:5060`);
    await register("alice", testIp(7, 11), 5061, `sip:alice@${testNet(7)}.11:5060`, "1800");
    await register("alice", testIp(7, 11), 5061, `sip:alice@${testNet(7)}.11:5060`, "0");
    const bad = await sipp({ scenario: "register-wrong-password.xml", localIp: testIp(7, 11), localPort: 5062, remote: PROXY, keys: keys("alice", { contact: `sip:alice@${testNet(7)}.11:5060`, pass: "not-the-password" }) }).done;
    assert.equal(bad.code, 0, describeRun("wrong password", bad));
    // The server's log comes through a pipe: wait for the line rather than look once.
    await server.waitForLog((l) => l.msg === "authentication failed" && l["reason"] === "mismatch", 10_000, "authentication failed: mismatch");
  });

  async function call(opts: { callee: string; uas: string; uac?: string; final: number; transport?: "u1" | "t1"; calleeIp: string; callerIp: string }): Promise<void> {
    const t = opts.transport ?? "u1";
    const tp = t === "t1" ? "tcp" : "udp";
    await register(opts.callee, opts.calleeIp, 5071, `sip:${opts.callee}@${opts.calleeIp}:5070;transport=${tp}`, "3600", t);
    const uas = sipp({ scenario: opts.uas, localIp: opts.calleeIp, localPort: 5070, transport: t });
    await waitBound(tp, opts.calleeIp, 5070);
    const uac = opts.final === 200
      ? sipp({ scenario: opts.uac ?? "uac.xml", localIp: opts.callerIp, localPort: 5080, transport: t, remote: PROXY, keys: keys("alice", { callee: opts.callee }) })
      : opts.final === 487
        ? sipp({ scenario: "uac-cancel.xml", localIp: opts.callerIp, localPort: 5080, transport: t, remote: PROXY, keys: keys("alice", { callee: opts.callee }) })
        : sipp({ scenario: "uac-fail.xml", template: { "[final]": String(opts.final) }, localIp: opts.callerIp, localPort: 5080, transport: t, remote: PROXY, keys: keys("alice", { callee: opts.callee }) });
    const [c, s] = await Promise.all([uac.done, uas.done]);
    assert.equal(c.code, 0, describeRun("caller", c));
    assert.equal(s.code, 0, describeRun("callee", s));
  }

  it("connects a call over UDP: INVITE/180/200/ACK/BYE through the proxy", async () => {
    await call({ callee: "bob", uas: "uas.xml", final: 200, calleeIp: testIp(7, 21), callerIp: testIp(7, 31) });
  });

  it("carries a re-INVITE and its ACK along the signed Record-Route, then the BYE (issue 10 item 1)", async () => {
    await call({ callee: "bob", uas: "uas-reinvite.xml", uac: "uac-reinvite.xml", final: 200, calleeIp: testIp(7, 27), callerIp: testIp(7, 37) });
  });

  it("relays 486 Busy Here", async () => {
    await call({ callee: "carol", uas: "uas-busy.xml", final: 486, calleeIp: testIp(7, 22), callerIp: testIp(7, 32) });
  });

  it("cancels a ringing call: 200 for the CANCEL, 487 for the INVITE", async () => {
    await call({ callee: "dave", uas: "uas-cancel.xml", final: 487, calleeIp: testIp(7, 23), callerIp: testIp(7, 33) });
  });

  it("answers 408 when the callee never answers (Timer B)", async () => {
    await call({ callee: "bob", uas: "uas-silent.xml", final: 408, calleeIp: testIp(7, 24), callerIp: testIp(7, 34) });
  });

  it("connects a call over TCP", async () => {
    await call({ callee: "carol", uas: "uas.xml", final: 200, transport: "t1", calleeIp: testIp(7, 25), callerIp: testIp(7, 35) });
  });

  it("answers 480 for a provisioned user with no binding and 404 for an unknown one", async () => {
    // erin is provisioned but never registered; alice registered and unregistered above.
    const r480 = await sipp({ scenario: "uac-fail.xml", template: { "[final]": "480" }, localIp: testIp(7, 36), localPort: 5080, remote: PROXY, keys: keys("alice", { callee: "erin" }) }).done;
    assert.equal(r480.code, 0, describeRun("480", r480));
    const r404 = await sipp({ scenario: "uac-fail.xml", template: { "[final]": "404" }, localIp: testIp(7, 36), localPort: 5081, remote: PROXY, keys: keys("alice", { callee: "nobody" }) }).done;
    assert.equal(r404.code, 0, describeRun("404", r404));
  });
});
