import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { Browser } from "playwright-core";
import { silentLogger } from "../../src/base/index.js";
import { LAB_WS_PORT, LAB_WSS_PORT } from "../../src/cli/lab.js";
import { ControlLink } from "../../src/node/index.js";
import { TlsIdentity } from "../../src/pki/index.js";
import type { PhoneLibrary, PhoneState } from "../support/browser-phone-api.js";
import { BrowserPhone, launchChromium, PhonePageServer } from "../support/browser-phone.js";
import { Lab } from "../support/lab.js";
import { sipp } from "../support/sipp.js";
import { waitFor } from "../support/wait-for.js";
import { testNet } from "../support/slot.js";

/**
 * Browser phones against a real network: JsSIP 3.x and SIP.js 0.21 with
 * their default settings, in headless Chromium (Debian `chromium`, fake
 * microphone), over `ws:` and `wss:` (the nodes' certificates from the
 * lab's operator CA, their keys pinned in the browser), against a lab of
 * `thor` processes on testNet(200).0/24 whose node1 also runs the
 * `media_relay` role (WebRTC offers pass it untouched, by policy). Each
 * library's pair of phones is registered on different nodes, so calls
 * cross the cluster (reverse outbound to the callee's edge node). The two
 * libraries run their cases at the same time.
 *
 * Covered: register, MESSAGE, a call with audio once ICE is connected,
 * hold and resume (re-INVITEs), the call kept up 40 s past Timer B
 * (32 s: JsSIP's GRUU made every answered call drop there, issue 18),
 * hang-up from either side, unregister; a closed tab's bindings removed
 * (RFC 5626 flow failure); a SIPp phone calling a JsSIP browser (its ACK
 * and BYE go to the browser's GRUU).
 */
const SUBNET = testNet(200);
const DOMAIN = "example.com";
/** Timer B (64 T1) plus 40 s: the call must outlive the point where JsSIP's calls dropped. */
const HOLD_UP_MS = 32_000 + 40_000;
const CALL_MS = 20_000;

interface Pair {
  library: PhoneLibrary;
  caller: BrowserPhone;
  callee: BrowserPhone;
}

const audioFlowing = (min: number) => (s: PhoneState) => s.call.phase === "established" && (s.call.ice === "connected" || s.call.ice === "completed") && s.call.packetsReceived >= min && s.call.packetsSent >= min;

describe("browser phones (JsSIP, SIP.js) in Chromium over ws and wss", { timeout: 300_000 }, () => {
  let lab: Lab;
  let pages: PhonePageServer;
  let browser: Browser;
  let control: ControlLink;
  let identity: TlsIdentity;
  const pairs: Pair[] = [];
  const node = (i: number) => lab.of("node")[i]!.ip;
  const ws = (i: number) => `ws://${node(i)}:${LAB_WS_PORT}`;
  const wss = (i: number) => `wss://${node(i)}:${LAB_WSS_PORT}`;
  const phone = (name: string, library: PhoneLibrary, user: string, server: string) => BrowserPhone.open(browser, pages.url, name, { library, server, user, password: `${user}-secret`, domain: DOMAIN, autoAnswer: true });
  const stat = (id: string, key: string) => lab.view.statistics.get(id)?.roles["sip_proxy"]?.[key] ?? 0;
  /** The bindings of `aor` as its holders have them (both nodes hold every AOR: two replicas). */
  const bindings = async (aor: string) => (await control.call("node1", "sip.lookup", { aor })) as Array<{ uri: string; transport: string }>;

  before(async () => {
    lab = await Lab.create({ subnet: SUBNET, eventServers: 1, managers: 1, nodes: [["sip_proxy", "media_relay"], ["sip_proxy"]], webSockets: true });
    await lab.startAll();
    const mon = lab.member("monitor");
    identity = await TlsIdentity.load({ ca: join(lab.plan.caDir, "ca.crt"), cert: mon.cert, key: mon.key, crl: join(lab.plan.caDir, "crl.pem") });
    control = new ControlLink({ identity, logger: silentLogger, host: `${SUBNET}.30`, port: 0, resolve: (id) => ({ host: lab.member(id).ip, port: 9600 }) });
    await control.start();
    pages = new PhonePageServer();
    await pages.start(`${SUBNET}.30`);
    browser = await launchChromium(lab.of("node").map((m) => readFileSync(m.cert, "utf8")));
    // JsSIP: alice on node1 over ws, bob on node2 over wss. SIP.js: carol on node1 over wss, dave on node2 over ws.
    const [alice, bob, carol, dave] = await Promise.all([phone("alice", "jssip", "alice", ws(0)), phone("bob", "jssip", "bob", wss(1)), phone("carol", "sipjs", "carol", wss(0)), phone("dave", "sipjs", "dave", ws(1))]);
    pairs.push({ library: "jssip", caller: alice, callee: bob }, { library: "sipjs", caller: carol, callee: dave });
  });

  after(async () => {
    for (const p of pairs) await Promise.all([p.caller.close(), p.callee.close()]);
    await browser?.close();
    await pages?.stop();
    await control?.stop();
    identity?.close();
    await lab?.stop();
  });

  const both = (fn: (p: Pair) => Promise<void>) => Promise.all(pairs.map(fn));
  const aor = (p: BrowserPhone) => `sip:${p.cfg.user}@${DOMAIN}`;

  it("registers (default settings) and exchanges MESSAGEs both ways", async () => {
    await both(async ({ caller, callee }) => {
      await Promise.all([caller.invoke("register"), callee.invoke("register")]);
      await caller.until((s) => s.registered, "registered");
      await callee.until((s) => s.registered, "registered");
      // Sent the moment both are registered (each on its own node): the other's binding must be found at once.
      for (const [from, to] of [[caller, callee], [callee, caller]] as const) {
        await from.invoke("message", aor(to), `hello ${to.cfg.user}`);
        const answered = await from.until((s) => s.sent.length > 0, "MESSAGE answered");
        assert.equal(answered.sent[0], "ok", `${from.name}'s MESSAGE to ${to.name}: ${answered.sent[0]}\n${answered.log.join("\n")}`);
      }
      await callee.until((s) => s.messages.includes(`hello ${callee.cfg.user}`), "MESSAGE received");
      await caller.until((s) => s.messages.includes(`hello ${caller.cfg.user}`), "MESSAGE received");
    });
  });

  it("calls with audio (ICE connected), holds and resumes, stays up 40 s past Timer B, and the callee hangs up", async () => {
    await both(async ({ library, caller, callee }) => {
      await caller.invoke("call", aor(callee));
      await caller.until(audioFlowing(25), `${library}: call up with audio both ways`, 30_000);
      await callee.until(audioFlowing(25), `${library}: call up with audio both ways`, 15_000);
      // Hold (re-INVITE a=sendonly) and resume (a=sendrecv): the directions follow, audio flows again.
      await caller.invoke("hold");
      await caller.until((s) => s.call.direction === "sendonly" || s.call.direction === "inactive", `${library}: held`);
      await callee.until((s) => s.call.direction === "recvonly" || s.call.direction === "inactive", `${library}: held by the other side`);
      await caller.invoke("unhold");
      await caller.until((s) => s.call.direction === "sendrecv", `${library}: resumed`);
      const resumed = await callee.until((s) => s.call.direction === "sendrecv", `${library}: resumed by the other side`);
      await callee.until((s) => s.call.packetsReceived >= resumed.call.packetsReceived + 25, `${library}: audio after resume`);
      // The call stays up: every poll must still see it established, until the time has passed.
      const until = Date.now() + HOLD_UP_MS;
      await waitFor(
        async () => {
          for (const p of [caller, callee]) {
            const s = await p.state();
            if (s.call.phase !== "established") throw new Error(`${library} ${p.name}: call ended after ${HOLD_UP_MS - (until - Date.now())} ms: ${s.call.endedBy} ${s.call.cause}\n${s.log.join("\n")}`);
          }
          return Date.now() >= until;
        },
        { timeoutMs: HOLD_UP_MS + 30_000, intervalMs: 1000, message: `${library}: call up for ${HOLD_UP_MS} ms` },
      ).catch((err: Error) => assert.fail(err.message));
      const late = await callee.until(audioFlowing(resumed.call.packetsReceived + 100), `${library}: audio still flowing`);
      assert.equal(late.call.established, 1, "one established call, not a re-established one");
      await callee.invoke("hangup");
      const gone = await caller.until((s) => s.call.phase === "ended", `${library}: call ended at the caller`);
      assert.equal(gone.call.endedBy, "remote", `${library}: the caller saw the callee hang up`);
      assert.equal((await callee.until((s) => s.call.phase === "ended", `${library}: ended`)).call.endedBy, "local");
    });
    // node1 took both initial INVITEs from the callers; the WebRTC offers passed the relay policy untouched.
    await waitFor(() => stat("node1", "mediaWebrtc") >= 2, { timeoutMs: 10_000, message: "node1's media dispatcher counted the WebRTC offers as not relayed" });
    assert.equal(stat("node1", "mediaOffers"), 0, "no offer was given to the relay");
  });

  it("the caller hangs up a call too", async () => {
    await both(async ({ library, caller, callee }) => {
      await callee.invoke("call", aor(caller));
      await caller.until(audioFlowing(10), `${library}: call up`, 30_000);
      const start = Date.now();
      await waitFor(async () => (await caller.state()).call.phase === "established" && Date.now() - start >= CALL_MS / 4, { timeoutMs: CALL_MS, intervalMs: 500, message: `${library}: a short call` });
      await caller.invoke("hangup");
      assert.equal((await callee.until((s) => s.call.phase === "ended", `${library}: ended`)).call.endedBy, "remote");
    });
  });

  it("a closed browser tab's registration goes with its WebSocket (RFC 5626 flow failure)", async () => {
    const before = (await bindings(`bob@${DOMAIN}`)).length;
    const tab = await phone("bob-tab", "jssip", "bob", ws(1));
    await tab.invoke("register");
    await tab.until((s) => s.registered, "second tab registered");
    await waitFor(async () => (await bindings(`bob@${DOMAIN}`)).length === before + 1, { timeoutMs: 10_000, message: "bob's second binding at the holders" });
    // Closing the page closes its WebSocket without unregistering.
    await tab.page.context().close();
    await waitFor(async () => (await bindings(`bob@${DOMAIN}`)).length === before, { timeoutMs: 10_000, message: "the closed tab's binding removed at both holders" });
    const lookup = (await control.call("node2", "sip.lookup", { aor: `bob@${DOMAIN}` })) as unknown[];
    assert.equal(lookup.length, before, "the replica dropped it too");
    await waitFor(() => stat("node2", "flowBindingsRemoved") >= 1, { timeoutMs: 10_000, message: "node2, the tab's edge, counted the binding it had removed" });
  });

  it("a SIPp phone calls a JsSIP browser: ACK and BYE reach its GRUU", async () => {
    const bob = pairs[0]!.callee;
    const offer = [
      "m=audio [media_port] UDP/TLS/RTP/SAVPF 0",
      "a=mid:0",
      "a=ice-ufrag:sipp",
      "a=ice-pwd:sippsippsippsippsippsipp",
      `a=fingerprint:sha-256 ${Array.from({ length: 32 }, (_, i) => (i * 7 + 16).toString(16).padStart(2, "0").toUpperCase()).join(":")}`,
      "a=setup:actpass",
      "a=rtcp-mux",
      "a=rtpmap:0 PCMU/8000",
      "a=sendrecv",
    ].join("\n      ");
    const run = await sipp({
      scenario: "uac.xml",
      template: { "m=audio [media_port] RTP/AVP 0\n      a=rtpmap:0 PCMU/8000": offer, '<pause milliseconds="100" />': '<pause milliseconds="2000" />' },
      localIp: `${SUBNET}.50`,
      localPort: 5080,
      mediaPort: 46000,
      remote: `${node(0)}:5060`,
      keys: { user: "alice", pass: "alice-secret", domain: DOMAIN, callee: "bob" },
      timeoutS: 30,
    }).done;
    assert.equal(run.code, 0, `SIPp call: ${run.errors}\n${run.messages.slice(-6000)}`);
    assert.match(run.messages, /ACK sip:bob@example\.com;gr=urn:uuid:/, "the ACK went to bob's GRUU");
    const s = await bob.until((x) => x.call.phase === "ended", "the SIPp call ended at bob");
    assert.equal(s.call.endedBy, "remote");
    assert.ok(s.call.established >= 1);
  });

  it("unregisters", async () => {
    await both(async ({ caller, callee }) => {
      await Promise.all([caller.invoke("unregister"), callee.invoke("unregister")]);
      await caller.until((s) => !s.registered, "unregistered");
      await callee.until((s) => !s.registered, "unregistered");
    });
    for (const user of ["alice", "bob", "carol", "dave"]) assert.equal((await bindings(`${user}@${DOMAIN}`)).length, 0, `${user} has no binding left`);
  });
});
