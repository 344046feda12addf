import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { KeyRing } from "../../src/base/index.js";
import { decodeFlowToken, encodeFlowToken, type TokenScope } from "../../src/sip/proxy/flow-token.js";
import { computeHa1, DigestAuthenticator, digestResponse, MemoryCredentialStore } from "../../src/sip/auth/index.js";

/** Issue 10 items 1, 2, 7: the signed tokens and nonces, without sockets. */
describe("signed route tokens (issue 10 items 1 and 2)", () => {
  const ring = new KeyRing([{ id: "k2", key: randomBytes(32) }]);
  const scope: TokenScope = { kind: "rr", host: "192.0.2.1", port: 5060, callId: "abc@x" };
  const now = 1_800_000_000;
  const refs = ["u:5060:198.51.100.7", "c:tcp#Qm9vbXRvd25fX19f"];

  it("round-trips the flow references of a Record-Route token and says which kind it is", () => {
    const t = encodeFlowToken(ring, refs, scope, now + 3600);
    assert.match(t, /^ft\.k2\.[0-9a-z]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{22}$/);
    assert.deepEqual(decodeFlowToken(ring, t, scope, now), { ok: true, kind: "rr", refs });
    const flow = encodeFlowToken(ring, [], { ...scope, kind: "flow" }, now + 60);
    assert.deepEqual(decodeFlowToken(ring, flow, scope, now), { ok: true, kind: "flow", refs: [] });
  });

  it("is bound to the dialog and to the URI that carries it", () => {
    const t = encodeFlowToken(ring, refs, scope, now + 3600);
    assert.deepEqual(decodeFlowToken(ring, t, { ...scope, callId: "other@x" }, now), { ok: false, reason: "bad-tag" });
    assert.deepEqual(decodeFlowToken(ring, t, { ...scope, port: 5061 }, now), { ok: false, reason: "bad-tag" });
    assert.deepEqual(decodeFlowToken(ring, t, { ...scope, host: "192.0.2.2" }, now), { ok: false, reason: "bad-tag" });
    // Host compared case-insensitively, without brackets or a trailing dot.
    const named = encodeFlowToken(ring, refs, { ...scope, host: "Proxy.Example.com" }, now + 3600);
    assert.equal(decodeFlowToken(ring, named, { ...scope, host: "proxy.example.com." }, now).ok, true);
  });

  it("refuses tampered references, made-up tags, unknown keys and expired tokens", () => {
    const t = encodeFlowToken(ring, refs, scope, now + 3600);
    const [p, kid, exp, payload, tag] = t.split(".") as [string, string, string, string, string];
    const other = Buffer.from("c:tcp#somebodyelse").toString("base64url");
    assert.deepEqual(decodeFlowToken(ring, [p, kid, exp, other, tag].join("."), scope, now), { ok: false, reason: "bad-tag" });
    assert.deepEqual(decodeFlowToken(ring, [p, kid, "zzzzzzz", payload, tag].join("."), scope, now), { ok: false, reason: "bad-tag" });
    assert.deepEqual(decodeFlowToken(ring, [p, "k9", exp, payload, tag].join("."), scope, now), { ok: false, reason: "unknown-key" });
    assert.deepEqual(decodeFlowToken(ring, t, scope, now + 3601), { ok: false, reason: "expired" });
    for (const bad of ["ft-" + payload, "ft.k2..", "ft." + "a".repeat(500), "ft.K2.x.y.z", `${t}.extra`]) assert.equal(decodeFlowToken(ring, bad, scope, now).ok, false, bad);
  });

  it("rotation: tokens of the previous key verify while it is present, not after it is retired", () => {
    const old = { id: "k1", key: randomBytes(32) };
    const oldRing = new KeyRing([old]);
    const t = encodeFlowToken(oldRing, refs, scope, now + 3600);
    const rotated = new KeyRing([{ id: "k2", key: randomBytes(32) }, old]);
    assert.equal(rotated.currentId, "k2");
    assert.equal(decodeFlowToken(rotated, t, scope, now).ok, true, "verified with the older key");
    assert.match(encodeFlowToken(rotated, refs, scope, now + 1), /^ft\.k2\./, "signed with the newest");
    rotated.replace([{ id: "k2", key: randomBytes(32) }]);
    assert.deepEqual(decodeFlowToken(rotated, t, scope, now), { ok: false, reason: "unknown-key" });
  });
});

describe("digest nonces across members (issue 10 item 7)", () => {
  const store = new MemoryCredentialStore("a.test");
  store.set("alice", { password: "pw" });
  const keys = new KeyRing([{ id: "k1", key: randomBytes(32) }]);
  const nodeA = new DigestAuthenticator(store, { realm: "a.test", keys, issuer: "node1", algorithms: ["MD5"] });
  const nodeB = new DigestAuthenticator(store, { realm: "a.test", keys, issuer: "node2", algorithms: ["MD5"] });
  const answer = (nonce: string, nc: string) => {
    const response = digestResponse("MD5", computeHa1("MD5", "alice", "a.test", "pw"), nonce, "REGISTER", "sip:a.test", { qop: "auth", nc, cnonce: "c" });
    return `Digest username="alice", realm="a.test", nonce="${nonce}", uri="sip:a.test", response="${response}", algorithm=MD5, qop=auth, nc=${nc}, cnonce="c"`;
  };
  const nonceOf = (challenge: string) => /nonce="([^"]+)"/.exec(challenge)![1]!;

  it("an answer captured at one member cannot be replayed at another: that member says stale and issues its own nonce", () => {
    const nonce = nonceOf(nodeA.challenges()[0]!);
    const captured = answer(nonce, "00000001");
    assert.equal(nodeA.verify("REGISTER", [captured], "sip:a.test").ok, true);
    assert.deepEqual(nodeA.verify("REGISTER", [captured], "sip:a.test"), { ok: false, reason: "replay", username: "alice" });
    assert.deepEqual(nodeB.verify("REGISTER", [captured], "sip:a.test"), { ok: false, reason: "stale", username: "alice" });
    const own = nonceOf(nodeB.challenges(true)[0]!);
    assert.equal(nodeB.verify("REGISTER", [answer(own, "00000001")], "sip:a.test").ok, true);
  });

  it("a nonce of another realm or signed by an unknown key is refused", () => {
    const foreign = new DigestAuthenticator(store, { realm: "a.test", keys: new KeyRing([{ id: "k1", key: randomBytes(32) }]), issuer: "node1" });
    assert.equal((nodeA.verify("REGISTER", [answer(nonceOf(foreign.challenges()[0]!), "00000001")], "sip:a.test") as { reason: string }).reason, "bad-nonce");
    const bRealm = nonceOf(nodeA.challenges(false, "b.test")[0]!);
    assert.equal((nodeA.verify("REGISTER", [answer(bRealm, "00000001")], "sip:a.test") as { reason: string }).reason, "bad-nonce");
  });

  it("the digest uri must be the Request-URI (RFC 3261 22.4)", () => {
    const nonce = nonceOf(nodeA.challenges()[0]!);
    assert.deepEqual(nodeA.verify("REGISTER", [answer(nonce, "00000001")], "sip:b.test"), { ok: false, reason: "wrong-uri", username: "alice" });
    assert.equal(nodeA.verify("REGISTER", [answer(nonce, "00000002")], "sip:A.TEST.").ok, true, "same host, canonical form");
  });
});
