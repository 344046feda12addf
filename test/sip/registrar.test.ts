import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { parseMessage, type SipRequest } from "../../src/sip/message/index.js";
import { Registrar } from "../../src/sip/registrar/index.js";
import type { Flow } from "../../src/sip/transport/index.js";

const flow: Flow = { id: "udp:x", transport: "udp", local: { address: "10.0.0.2", port: 5060 }, remote: { address: "192.0.2.7", port: 40000 }, reliable: false, send: () => true, closed: false };

function register(cseq: number, contacts: string[], opts: { expires?: string; callId?: string; supported?: string } = {}): SipRequest {
  const lines = [
    "REGISTER sip:example.test SIP/2.0",
    "Via: SIP/2.0/UDP 192.0.2.7:5060;branch=z9hG4bKr" + cseq,
    "From: <sip:alice@example.test>;tag=1",
    "To: <sip:alice@example.test>",
    `Call-ID: ${opts.callId ?? "reg-1"}`,
    `CSeq: ${cseq} REGISTER`,
    ...contacts.map((c) => `Contact: ${c}`),
    ...(opts.expires !== undefined ? [`Expires: ${opts.expires}`] : []),
    ...(opts.supported ? [`Supported: ${opts.supported}`] : []),
    "Content-Length: 0",
    "",
    "",
  ];
  const r = parseMessage(Buffer.from(lines.join("\r\n")));
  assert.ok(r.ok, r.ok ? "" : r.error.reason);
  return r.message as SipRequest;
}

describe("RFC 3261 10.3 registrar", () => {
  const aor = "alice@example.test";

  it("adds, refreshes (per-binding expiry, q-values) and lists bindings", () => {
    const reg = new Registrar({ minExpires: 60, maxExpires: 3600 });
    const out = reg.register(register(1, ["<sip:alice@192.0.2.7>;q=0.5", "<sip:alice@198.51.100.1>;expires=120"], { expires: "7200" }), flow, aor, 0);
    assert.equal(out.status, 200);
    if (out.status !== 200) return;
    assert.deepEqual(out.bindings.map((b) => [b.uri, b.q, b.expires]), [["sip:alice@198.51.100.1", 1, 120_000], ["sip:alice@192.0.2.7", 0.5, 3_600_000]]);
    assert.deepEqual(Registrar.contactHeaders(out, 60_000), ["<sip:alice@198.51.100.1>;expires=60", "<sip:alice@192.0.2.7>;expires=3540;q=0.5"]);
    const refreshed = reg.register(register(2, ["<sip:alice@198.51.100.1>"], { expires: "600" }), flow, aor, 100_000);
    assert.equal(refreshed.status, 200);
    assert.equal(reg.store.get(aor, "sip:alice@198.51.100.1")?.expires, 700_000);
    assert.equal(reg.store.lookup(aor, 3_600_001).length, 0, "expired bindings disappear");
  });

  it("answers 423 with Min-Expires for too short a registration", () => {
    const out = new Registrar({ minExpires: 60 }).register(register(1, ["<sip:alice@192.0.2.7>"], { expires: "30" }), flow, aor, 0);
    assert.deepEqual(out, { status: 423, reason: "Interval Too Brief", minExpires: 60 });
  });

  it("removes one binding with expires=0 and all with Contact: * / Expires: 0", () => {
    const reg = new Registrar();
    reg.register(register(1, ["<sip:alice@192.0.2.7>", "<sip:alice@192.0.2.8>"]), flow, aor, 0);
    reg.register(register(2, ["<sip:alice@192.0.2.7>;expires=0"]), flow, aor, 0);
    assert.deepEqual(reg.store.lookup(aor, 0).map((b) => b.uri), ["sip:alice@192.0.2.8"]);
    assert.equal(reg.register(register(3, ["*"]), flow, aor, 0).status, 400, "* needs Expires: 0");
    assert.equal(reg.register(register(4, ["*"], { expires: "0" }), flow, aor, 0).status, 200);
    assert.equal(reg.store.lookup(aor, 0).length, 0);
  });

  it("refuses an out-of-order CSeq for the same Call-ID, but accepts another Call-ID", () => {
    const reg = new Registrar();
    reg.register(register(5, ["<sip:alice@192.0.2.7>"]), flow, aor, 0);
    assert.deepEqual(reg.register(register(5, ["<sip:alice@192.0.2.7>"], { expires: "0" }), flow, aor, 0), { status: 400, reason: "CSeq out of order" });
    assert.equal(reg.register(register(1, ["<sip:alice@192.0.2.7>"], { expires: "0", callId: "other" }), flow, aor, 0).status, 200);
  });

  it("keeps +sip.instance and reg-id, replaces the old flow of the same instance, and hands out a GRUU", () => {
    const reg = new Registrar();
    const inst = '+sip.instance="<urn:uuid:f81d4fae-7dec-11d0-a765-00a0c91e6bf6>"';
    reg.register(register(1, [`<sip:alice@192.0.2.7:5060;ob>;${inst};reg-id=1`]), flow, aor, 0);
    const out = reg.register(register(2, [`<sip:alice@192.0.2.99:6000;ob>;${inst};reg-id=1`], { supported: "gruu, outbound" }), flow, aor, 0);
    assert.equal(out.status, 200);
    if (out.status !== 200) return;
    assert.deepEqual(out.bindings.map((b) => b.uri), ["sip:alice@192.0.2.99:6000;ob"]);
    assert.match(Registrar.contactHeaders(out, 0)[0]!, /;\+sip\.instance="<urn:uuid:f81d4fae-7dec-11d0-a765-00a0c91e6bf6>";pub-gruu="sip:alice@example\.test;gr=urn:uuid:f81d4fae-7dec-11d0-a765-00a0c91e6bf6";reg-id=1$/);
  });
});
