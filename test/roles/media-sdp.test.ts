import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import fc from "fast-check";
import { isPrivateAddress, readSdp, rewriteSdp, webrtcReason } from "../../src/roles/media-sdp.js";
import { testIp } from "../support/slot.js";

const fixture = (name: string) => readFileSync(fileURLToPath(new URL(`../../../test/fixtures/sdp/${name}`, import.meta.url)), "utf8");
const lines = (sdp: string) => sdp.split(/\r\n/).filter((l) => l.length > 0);
/** What the rewrite may touch: c=, m=, a=rtcp:, ICE. */
const rewritten = (l: string) => /^(c=|m=|a=rtcp:|a=candidate|a=ice-|a=end-of-candidates|a=remote-candidates)/.test(l);

function check(name: string, relay: string) {
  const body = fixture(name);
  const read = readSdp(body);
  assert.ok(read.ok, name);
  const relayed = read.streams.map((s, i) => ({ address: relay, port: s.port === 0 ? 0 : 40000 + i * 2, rtcpPort: s.port === 0 ? 0 : 40001 + i * 2 }));
  const out = rewriteSdp(read.sdp, relayed);
  const again = readSdp(out);
  assert.ok(again.ok);
  // Every stream now goes to the relay.
  again.streams.forEach((s, i) => {
    assert.equal(s.address, relay);
    assert.equal(s.port, relayed[i]!.port);
    if (s.rtcpPort !== undefined) assert.equal(s.rtcpPort, relayed[i]!.rtcpPort);
  });
  assert.ok(!/a=candidate|a=ice-/.test(out), "ICE removed");
  assert.ok(!lines(out).some((l) => !l.startsWith("o=") && !l.startsWith("a=rtcp-xr") && l.includes(read.streams[0]!.address)), "the party's address is gone (o= aside)");
  // Everything else is kept, section by section (sdp-transform writes a section's attributes grouped by kind).
  const sections = (sdp: string) => sdp.split(/\r\nm=/).map((sec) => lines(sec).filter((l) => !rewritten(l) && !/^(audio|video|application) /.test(l)).sort());
  assert.deepEqual(sections(out), sections(body));
  return { read, out };
}

describe("SDP rewriting for the media relay (RFC 4566, RFC 3264)", () => {
  it("baresip: c= and the m= port go to the relay, the rest is kept", () => {
    const { read, out } = check("baresip.sdp", "203.0.113.1");
    assert.deepEqual(read.streams, [{ address: "192.168.1.34", port: 10922, clockRate: 8000 }]);
    assert.match(out, /^c=IN IP4 203\.0\.113\.1\r$/m);
    assert.match(out, /^m=audio 40000 RTP\/AVP 0 8 101\r$/m);
    assert.ok(!out.includes("c=IN IP4 192.168.1.34"));
  });

  it("linphone (ICE, audio and video, a=rtcp): ports and a=rtcp per stream, candidates removed", () => {
    const { read, out } = check("linphone.sdp", "203.0.113.1");
    assert.deepEqual(read.streams.map((s) => [s.port, s.rtcpPort]), [[7078, 7079], [9078, 9079]]);
    assert.match(out, /^a=rtcp:40001 IN IP4 203\.0\.113\.1\r$/m);
    assert.match(out, /^a=rtcp:40003 IN IP4 203\.0\.113\.1\r$/m);
    assert.match(out, /^m=video 40002 /m);
  });

  it("WebRTC browser (BUNDLE, rtcp-mux, DTLS): BUNDLE, mids, fingerprint and rtcp-mux are kept", () => {
    const { read, out } = check("webrtc-chrome.sdp", "2001:db8::7");
    assert.equal(read.streams[0]!.rtcpMux, true);
    assert.equal(read.streams[0]!.clockRate, 48000);
    assert.match(out, /^a=group:BUNDLE 0 1\r$/m);
    assert.match(out, /^a=fingerprint:sha-256 /m);
    assert.match(out, /^c=IN IP6 2001:db8::7\r$/m);
    assert.equal((out.match(/a=rtcp-mux/g) ?? []).length, 2);
  });

  it("keeps a disabled stream at port 0", () => {
    const body = fixture("linphone.sdp").replace("m=video 9078", "m=video 0");
    const read = readSdp(body);
    assert.ok(read.ok);
    assert.equal(read.streams[1]!.port, 0);
    const out = rewriteSdp(read.sdp, [{ address: "203.0.113.1", port: 40000, rtcpPort: 40001 }, { address: "203.0.113.1", port: 0, rtcpPort: 0 }]);
    assert.match(out, /^m=video 0 /m);
  });

  it("refuses what it cannot relay, with a reason, and never throws", () => {
    assert.deepEqual(readSdp("v=0\r\ns=-\r\n"), { ok: false, reason: "SDP without media" });
    const noAddress = readSdp("v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\ns=-\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n");
    assert.equal(noAddress.ok, false);
    assert.equal(readSdp("x".repeat(20_000)).ok, false);
    const many = "v=0\r\nc=IN IP4 1.2.3.4\r\n" + "m=audio 4000 RTP/AVP 0\r\n".repeat(9);
    assert.equal(readSdp(many).ok, false);
    fc.assert(fc.property(fc.string({ maxLength: 400 }), (s) => typeof readSdp(s).ok === "boolean"), { numRuns: 2000 });
  });

  it("knows private addresses (RFC 1918, RFC 6598, link-local, ULA)", () => {
    for (const a of ["10.1.2.3", "172.16.0.1", "172.31.255.255", "192.168.1.1", "100.64.0.1", "169.254.1.1", "fd00::1", "fe80::1"]) assert.equal(isPrivateAddress(a), true, a);
    for (const a of ["172.32.0.1", "8.8.8.8", testIp(130, 1), "2001:db8::1", "100.128.0.1"]) assert.equal(isPrivateAddress(a), false, a);
  });

  it("tells WebRTC descriptions (DTLS-SRTP) from plain RTP ones, ICE or not", () => {
    const sdp = (name: string) => {
      const r = readSdp(fixture(name));
      assert.ok(r.ok);
      return r.sdp;
    };
    assert.equal(webrtcReason(sdp("webrtc-chrome.sdp")), "DTLS-SRTP fingerprint");
    assert.equal(webrtcReason(sdp("baresip.sdp")), undefined);
    assert.equal(webrtcReason(sdp("linphone.sdp")), undefined, "ICE with plain RTP (Linphone) is relayed as before");
    const dtlsOnly = readSdp("v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\nm=audio 5000 UDP/TLS/RTP/SAVPF 0\r\na=rtpmap:0 PCMU/8000\r\n");
    assert.ok(dtlsOnly.ok);
    assert.equal(webrtcReason(dtlsOnly.sdp), "DTLS-SRTP profile");
  });
});
