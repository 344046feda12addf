import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { silentLogger } from "../../src/base/index.js";
import { ControlLink } from "../../src/node/index.js";
import { TlsIdentity } from "../../src/pki/index.js";
import { Baresip, writeToneWav } from "../support/baresip.js";
import { Lab } from "../support/lab.js";
import { waitFor } from "../support/wait-for.js";
import { testIp, testNet } from "../support/slot.js";

/**
 * Media relaying end to end: real `thor node` processes on testIp(131, 0)/24
 * (two sip_proxy nodes, two media_relay nodes), two baresip phones on
 * testIp(130, 0)/24 registered on different nodes. alice calls bob: the call
 * crosses both proxies, RTP goes through a relay both ways, hold and
 * resume are re-INVITEs, hang-up removes the session, and after the relay
 * is SIGKILLed the next call uses the other one.
 */
const SUBNET = testNet(131);
const DOMAIN = "example.com";
const plain = (s: string | undefined) => (s ?? "").replace(/\u001b\[[0-9;]*m/g, "");

interface RelayView {
  sessions: number;
  packetsRelayed: number;
  calls: string[];
}
interface LegView {
  party: string | null;
  latched: boolean;
  received: { packets: number };
}

describe("media relay end to end with baresip phones", () => {
  let lab: Lab;
  let alice: Baresip;
  let bob: Baresip;
  let control: ControlLink;
  let identity: TlsIdentity;
  const relayIds = ["node3", "node4"];

  before(async () => {
    lab = await Lab.create({ subnet: SUBNET, eventServers: 1, managers: 1, nodes: [["sip_proxy"], ["sip_proxy"], ["media_relay"], ["media_relay"]] });
    for (const kind of ["eventserver", "manager", "database"] as const) for (const m of lab.of(kind)) lab.start(m.name);
    for (const m of lab.of("node")) lab.start(m.name, ["--media-port-min", "42000", "--media-port-max", "42999"]);
    await lab.observe();
    await waitFor(
      () => {
        const dead = [...lab.procs.values()].find((p) => !p.alive);
        if (dead) throw new Error(`member exited early: ${dead.describe()}`);
        return (lab.view.snapshot?.members.length ?? 0) === 4;
      },
      { timeoutMs: 90_000, message: `4 nodes in the snapshot (have ${lab.memberIds().join(",")}); ${[...lab.procs.values()].map((p) => p.describe()).join("\n").slice(-6000)}` },
    );
    await lab.sipReady();
    const mon = lab.member("monitor");
    identity = await TlsIdentity.load({ ca: join(lab.plan.caDir, "ca.crt"), cert: mon.cert, key: mon.key, crl: join(lab.plan.caDir, "crl.pem") });
    control = new ControlLink({ identity, logger: silentLogger, host: testIp(130, 1), port: 0, resolve: (id) => ({ host: lab.member(id).ip, port: 9600 }) });
    await control.start();
    const node = (i: number) => lab.of("node")[i]!.ip;
    const account = (user: string, via: string, extra = "") => `<sip:${user}@${DOMAIN}>;auth_pass=${user}-secret;outbound="sip:${via}:5060;transport=udp";regint=600${extra}`;
    const tone = join(lab.plan.dir, "tone.wav");
    writeToneWav(tone, 60);
    alice = new Baresip({ name: "alice", dir: lab.plan.dir, ip: testIp(130, 80), sipPort: 5060, ctrlPort: 4444, account: account("alice", node(0)), rtpPorts: [20000, 20019], audioFile: tone });
    bob = new Baresip({ name: "bob", dir: lab.plan.dir, ip: testIp(130, 81), sipPort: 5060, ctrlPort: 4444, account: account("bob", node(1), ";answermode=auto"), rtpPorts: [20020, 20039], audioFile: tone });
    await Promise.all([alice.start(), bob.start()]);
    for (const ua of [alice, bob]) {
      await waitFor(async () => /\bOK\b/.test(plain((await ua.command("reginfo")).data)), { timeoutMs: 15_000, message: `${ua.opts.name} registered\n${ua.log()}` });
    }
  });

  after(async () => {
    await Promise.all([alice?.stop(), bob?.stop()]);
    await control?.stop();
    identity?.close();
    await lab?.stop();
  });

  const relay = (id: string) => control.call(id, "media.query", {}) as Promise<RelayView>;
  const session = (id: string, callId: string) => control.call(id, "media.query", { callId }) as Promise<{ streams: Array<{ legs: [LegView, LegView] }> } | null>;
  /** The relay holding a session, and the session's Call-ID. */
  async function activeRelay(): Promise<{ id: string; callId: string }> {
    return waitFor(
      async () => {
        for (const id of relayIds) {
          if (!lab.proc(id).alive) continue;
          const v = await relay(id);
          if (v.sessions === 1) return { id, callId: v.calls[0]! };
        }
        return undefined;
      },
      { timeoutMs: 10_000, message: "a relay with the call's session" },
    );
  }
  /** Packets the relay received from each party of the call's first stream. */
  async function counts(id: string, callId: string): Promise<[number, number]> {
    const s = await session(id, callId);
    assert.ok(s, `session ${callId} on ${id}`);
    const [a, b] = s.streams[0]!.legs;
    return [a.received.packets, b.received.packets];
  }
  const clearEvents = () => {
    alice.events.length = 0;
    bob.events.length = 0;
  };

  it("a call across two nodes relays RTP both ways; hold and resume are re-INVITEs through the relay; hang-up removes the session", async () => {
    clearEvents();
    const dial = await alice.command("dial", `sip:bob@${DOMAIN}`);
    assert.ok(dial.ok, `dial: ${dial.data}`);
    await alice.waitEvent("CALL_ESTABLISHED", 15_000);
    await bob.waitEvent("CALL_ESTABLISHED", 15_000);
    const { id, callId } = await activeRelay();
    // RTP through the relay both ways: counted at the relay, and received by each phone.
    await waitFor(async () => (await counts(id, callId)).every((n) => n >= 50), { timeoutMs: 10_000, message: "RTP both ways at the relay" }).catch(async (err: Error) => {
      throw new Error(`${err.message}: ${JSON.stringify(await session(id, callId))}\n${alice.log()}\n${bob.log()}`);
    });
    await alice.waitEvent("CALL_RTPESTAB", 10_000);
    await bob.waitEvent("CALL_RTPESTAB", 10_000);
    const s = (await session(id, callId))!;
    assert.ok(s.streams[0]!.legs.every((l) => l.latched), "both legs latched");

    // Hold (re-INVITE a=sendonly) and resume (re-INVITE a=sendrecv): the session stays on its relay, RTP flows again after.
    const offers = () => lab.view.statistics.get("node1")?.roles["sip_proxy"]?.["mediaOffers"] ?? 0;
    const before = offers();
    assert.ok((await alice.command("hold")).ok);
    await waitFor(() => offers() >= before + 1, { timeoutMs: 10_000, message: "the hold re-INVITE went through the dispatcher" });
    assert.ok((await alice.command("resume")).ok);
    await waitFor(() => offers() >= before + 2, { timeoutMs: 10_000, message: "the resume re-INVITE went through the dispatcher" });
    const [a0, b0] = await counts(id, callId);
    await waitFor(async () => {
      const [a1, b1] = await counts(id, callId);
      return a1 >= a0 + 25 && b1 >= b0 + 25;
    }, { timeoutMs: 10_000, message: "RTP both ways after resume" });
    assert.equal((await relay(id)).sessions, 1, "one session for the call, re-INVITEs included");

    assert.ok((await alice.command("hangup")).ok);
    await bob.waitEvent("CALL_CLOSED", 10_000);
    await waitFor(async () => (await relay(id)).sessions === 0, { timeoutMs: 5_000, message: "session removed at hang-up" });
  });

  it("after the relay is SIGKILLed, the next call uses the other relay", async () => {
    clearEvents();
    assert.ok((await alice.command("dial", `sip:bob@${DOMAIN}`)).ok);
    await alice.waitEvent("CALL_ESTABLISHED", 15_000);
    const first = await activeRelay();
    assert.ok((await alice.command("hangup")).ok);
    await bob.waitEvent("CALL_CLOSED", 10_000);
    await waitFor(async () => (await relay(first.id)).sessions === 0, { timeoutMs: 5_000, message: "first call's session removed" });

    await lab.proc(first.id).stop("SIGKILL", 5000);
    clearEvents();
    assert.ok((await alice.command("dial", `sip:bob@${DOMAIN}`)).ok);
    await alice.waitEvent("CALL_ESTABLISHED", 15_000);
    const second = await activeRelay();
    assert.notEqual(second.id, first.id);
    await waitFor(async () => (await counts(second.id, second.callId)).every((n) => n >= 25), { timeoutMs: 10_000, message: "RTP both ways through the other relay" });
    assert.ok((await alice.command("hangup")).ok);
    await bob.waitEvent("CALL_CLOSED", 10_000);
  });
});
