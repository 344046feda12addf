import { after, describe, it } from "node:test";
import dgram from "node:dgram";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { ManualClock, systemClock } from "../../src/base/index.js";
import { MediaRelay, mediaDescriptionSchema, mediaDeleteSchema } from "../../src/media/index.js";
import { ControlUnreachableError } from "../../src/node/index.js";
import { RoleMap, type Entity } from "../../src/overlay/index.js";
import { MediaDispatcher, readSdp } from "../../src/roles/index.js";
import { parseMessage, SipRequest, SipResponse, type ResponseHandler } from "../../src/sip/index.js";
import { MemoryLogger } from "../support/memory-logger.js";
import { rtpPacket } from "../support/rtp.js";
import { waitFor } from "../support/wait-for.js";
import { testIp, testNet } from "../support/slot.js";

/** Our loopback subnet testIp(130, 0)/24: relays on .101, .102, .103. */
const sdpBody = readFileSync(fileURLToPath(new URL("../../../test/fixtures/sdp/baresip.sdp", import.meta.url)), "utf8");
const webrtcBody = readFileSync(fileURLToPath(new URL("../../../test/fixtures/sdp/webrtc-chrome.sdp", import.meta.url)), "utf8");

function entity(id: string, n: number, attrs: Record<string, boolean | string> = {}): Entity {
  return { id, ip: `${testNet(130)}.${n}`, roles: ["media_relay"], version: "t", ports: { control: 9600 }, attrs, startedAt: 0 };
}

function invite(callId: string, body: string, toTag?: string, method = "INVITE"): SipRequest {
  const text = [
    `${method} sip:bob@example.com SIP/2.0`,
    `Via: SIP/2.0/UDP ${testNet(130)}.50:5060;branch=z9hG4bK-1`,
    "From: <sip:alice@example.com>;tag=alice-tag",
    `To: <sip:bob@example.com>${toTag ? `;tag=${toTag}` : ""}`,
    `Call-ID: ${callId}`,
    `CSeq: 1 ${method}`,
    `Contact: <sip:alice@${testNet(130)}.50:5060>`,
    "Content-Type: application/sdp",
    `Content-Length: ${Buffer.byteLength(body)}`,
    "",
    body,
  ].join("\r\n");
  const r = parseMessage(Buffer.from(text));
  assert.ok(r.ok && r.message instanceof SipRequest);
  return r.message;
}

function answer(callId: string, status: number, body: string): SipResponse {
  const text = [`SIP/2.0 ${status} X`, `Via: SIP/2.0/UDP ${testNet(130)}.50:5060;branch=z9hG4bK-1`, "From: <sip:alice@example.com>;tag=alice-tag", "To: <sip:bob@example.com>;tag=bob-tag", `Call-ID: ${callId}`, "CSeq: 1 INVITE", "Content-Type: application/sdp", `Content-Length: ${Buffer.byteLength(body)}`, "", body].join("\r\n");
  const r = parseMessage(Buffer.from(text));
  assert.ok(r.ok && r.message instanceof SipResponse);
  return r.message;
}

const fromClient = { address: testIp(130, 50), port: 5060, transport: "udp" as const, fromMember: false };

describe("media dispatcher (real relay engines behind a control-call function)", () => {
  const engines = new Map<string, MediaRelay>();
  const down = new Set<string>();
  const calls: Array<{ member: string; method: string }> = [];
  const members = [entity("relay1", 101), entity("relay2", 102), entity("relay3", 103, { draining: true })];
  engines.set("relay1", new MediaRelay({ interfaces: [{ listen: testIp(130, 101) }], logger: new MemoryLogger(), portMin: 42000, portMax: 42099 }));
  engines.set("relay2", new MediaRelay({ interfaces: [{ listen: testIp(130, 102) }], logger: new MemoryLogger(), portMin: 42000, portMax: 42099 }));
  after(() => {
    for (const e of engines.values()) e.stop();
  });
  // The role's handlers in miniature: the same schemas, the same engine calls, without TLS.
  const call = async (member: string, method: string, payload: unknown): Promise<unknown> => {
    calls.push({ member, method });
    const engine = engines.get(member);
    if (!engine || down.has(member)) throw new ControlUnreachableError(`control link to ${member}: ECONNREFUSED`);
    if (method === "media.delete") return engine.delete(mediaDeleteSchema.parse(payload).callId) ?? null;
    const d = mediaDescriptionSchema.parse(payload);
    return { streams: await (method === "media.offer" ? engine.offer(d) : engine.update(d)) };
  };
  let seed = 0;
  const dispatcher = (policy: "always" | "nat" = "always", clock = systemClock) =>
    new MediaDispatcher({ logger: new MemoryLogger(), clock, policy, map: () => RoleMap.fromMembers(members), call, random: () => ((seed = (seed * 9301 + 49297) % 233280) / 233280) });

  it("offers to a live, active relay, rewrites the offer, and keeps the call on it for the answer and re-INVITE", async () => {
    const d = dispatcher();
    const req = invite("call-1", sdpBody);
    const handler = (await d.onRequest({ request: req, source: fromClient, targets: [{ uri: `sip:bob@${testNet(130)}.60` }] })) as ResponseHandler;
    const relay = d.relayOf("call-1");
    assert.ok(relay === "relay1" || relay === "relay2", `relay ${relay}`);
    const offered = readSdp(req.body.toString());
    assert.ok(offered.ok);
    assert.equal(offered.streams[0]!.address, relay === "relay1" ? testIp(130, 101) : testIp(130, 102));
    const res = answer("call-1", 200, sdpBody.replace(/192\.168\.1\.34/g, testIp(130, 60)));
    await handler.onResponse!(res);
    const answered = readSdp(res.body.toString());
    assert.ok(answered.ok);
    assert.equal(answered.streams[0]!.address, offered.streams[0]!.address);
    assert.notEqual(answered.streams[0]!.port, offered.streams[0]!.port);
    handler.onComplete!(200);
    const q = engines.get(relay!)!.query("call-1")!;
    assert.deepEqual(q.parties, ["alice-tag", "bob-tag"]);
    // re-INVITE (hold) from the caller: same relay, media.update.
    calls.length = 0;
    const reinvite = invite("call-1", sdpBody.replace("a=sendrecv", "a=sendonly"), "bob-tag");
    await d.onRequest({ request: reinvite, source: fromClient, targets: [{ uri: `sip:bob@${testNet(130)}.60` }] });
    assert.deepEqual(calls, [{ member: relay, method: "media.update" }]);
    assert.match(reinvite.body.toString(), /a=sendonly/);
    // BYE removes the session.
    await d.onRequest({ request: invite("call-1", "", "bob-tag", "BYE"), source: fromClient, targets: [] });
    await new Promise((r) => setImmediate(r));
    assert.equal(engines.get(relay!)!.query("call-1"), undefined);
    assert.equal(d.activeCalls, 0);
  });

  it("never picks a draining relay, and moves to the next one when a relay fails", async () => {
    const d = dispatcher();
    down.add("relay1");
    for (let i = 0; i < 6; i++) {
      await d.onRequest({ request: invite(`call-f${i}`, sdpBody), source: fromClient, targets: [] });
      assert.equal(d.relayOf(`call-f${i}`), "relay2");
    }
    assert.ok(!calls.some((c) => c.member === "relay3"), "draining relay never asked");
    assert.equal(calls.filter((c) => c.member === "relay1").length <= 1, true, "a failed relay is passed over afterwards");
    assert.ok(d.stats.mediaRelayFailures <= 1);
    down.delete("relay1");
  });

  it("a failed initial INVITE (CANCEL, 486) removes the session", async () => {
    const d = dispatcher();
    const handler = (await d.onRequest({ request: invite("call-2", sdpBody), source: fromClient, targets: [] })) as ResponseHandler;
    const relay = d.relayOf("call-2")!;
    assert.ok(engines.get(relay)!.query("call-2"));
    handler.onComplete!(487);
    await new Promise((r) => setImmediate(r));
    assert.equal(engines.get(relay)!.query("call-2"), undefined);
  });

  it("leaves alone INVITEs from other members (their edge relays them) and goes on without a relay when none answers", async () => {
    const d = dispatcher();
    const fromMember = invite("call-3", sdpBody);
    assert.equal(await d.onRequest({ request: fromMember, source: { ...fromClient, fromMember: true }, targets: [] }), undefined);
    assert.equal(fromMember.body.toString(), sdpBody);
    down.add("relay1");
    down.add("relay2");
    const d2 = dispatcher();
    const lonely = invite("call-4", sdpBody);
    assert.equal(await d2.onRequest({ request: lonely, source: fromClient, targets: [] }), undefined);
    assert.equal(lonely.body.toString(), sdpBody, "SDP untouched");
    assert.equal(d2.stats.mediaUnrelayed, 1);
    down.clear();
  });

  it("WebRTC offers (ICE, DTLS-SRTP) are not relayed, by policy: offer, answer and re-INVITE pass untouched", async () => {
    const d = dispatcher();
    const before = calls.length;
    const req = invite("call-webrtc", webrtcBody);
    assert.equal(await d.onRequest({ request: req, source: fromClient, targets: [] }), undefined);
    assert.equal(req.body.toString(), webrtcBody, "offer untouched");
    const reinvite = invite("call-webrtc", webrtcBody, "callee-tag");
    assert.equal(await d.onRequest({ request: reinvite, source: fromClient, targets: [] }), undefined);
    assert.equal(reinvite.body.toString(), webrtcBody, "re-INVITE untouched");
    assert.equal(calls.length, before, "no relay was asked");
    assert.equal(d.stats.mediaWebrtc, 1);
    assert.equal(d.stats.mediaCalls, 0);
  });

  it("with the nat policy, relays only calls where a side looks NATed", async () => {
    const d = dispatcher("nat", new ManualClock());
    const publicSdp = sdpBody.replace(/192\.168\.1\.34/g, testIp(130, 50));
    // Caller public (SDP = source address), callee registered from its Contact address: no relay.
    assert.equal(await d.onRequest({ request: invite("n1", publicSdp), source: fromClient, targets: [{ uri: `sip:bob@${testNet(130)}.60:5060`, registeredFrom: testIp(130, 60) }] }), undefined);
    // Caller with a private SDP address: relayed.
    assert.ok(await d.onRequest({ request: invite("n2", sdpBody), source: fromClient, targets: [] }));
    // Caller public, callee registered through a NAT (Contact private): relayed.
    assert.ok(await d.onRequest({ request: invite("n3", publicSdp), source: fromClient, targets: [{ uri: "sip:bob@10.0.0.5:5060", registeredFrom: testIp(130, 61) }] }));
    for (const id of ["n2", "n3"]) await d.onRequest({ request: invite(id, "", "x", "BYE"), source: fromClient, targets: [] });
  });

  it("latching: a NATed caller whose SDP names an unreachable private address hears the callee", async () => {
    const d = dispatcher();
    const sock = (ip: string) => new Promise<dgram.Socket>((r) => { const s = dgram.createSocket("udp4"); s.bind(0, ip, () => r(s)); });
    const alice = await sock(testIp(130, 52));
    const bob = await sock(testIp(130, 53));
    const heard: Buffer[] = [];
    alice.on("message", (m) => heard.push(m));
    const atBob: Buffer[] = [];
    bob.on("message", (m) => atBob.push(m));
    try {
      // alice's SDP: her private address and a port where nothing listens; her packets come from another port (the NAT's).
      const req = invite("call-nat", sdpBody.replace(/192\.168\.1\.34/g, "10.0.0.99").replace("m=audio 10922", "m=audio 4000"));
      const handler = (await d.onRequest({ request: req, source: { ...fromClient, address: testIp(130, 52) }, targets: [] })) as ResponseHandler;
      const offered = readSdp(req.body.toString());
      assert.ok(offered.ok);
      const res = answer("call-nat", 200, sdpBody.replace(/192\.168\.1\.34/g, testIp(130, 53)).replace("m=audio 10922", `m=audio ${bob.address().port}`));
      await handler.onResponse!(res);
      const answered = readSdp(res.body.toString());
      assert.ok(answered.ok);
      const relay = engines.get(d.relayOf("call-nat")!)!;
      // The relay was told to send to her source address, never to 10.0.0.99.
      assert.equal(relay.query("call-nat")!.streams[0]!.legs[0].remote, `${testNet(130)}.52:4000`);
      alice.send(rtpPacket(1, 160), answered.streams[0]!.port, answered.streams[0]!.address);
      await waitFor(() => atBob.length === 1, { timeoutMs: 3000, message: "alice's RTP at bob" });
      bob.send(rtpPacket(1, 160), offered.streams[0]!.port, offered.streams[0]!.address);
      await waitFor(() => heard.length === 1, { timeoutMs: 3000, message: "bob's RTP at alice's real (latched) source" });
      assert.equal(relay.query("call-nat")!.streams[0]!.legs[0].remote, `${testNet(130)}.52:${alice.address().port}`);
      handler.onComplete!(486);
    } finally {
      alice.close();
      bob.close();
    }
  });
});
