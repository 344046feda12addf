import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { computeHa1, digestResponse, DigestAuthenticator, MemoryCredentialStore, parseDigest } from "../../src/sip/auth/index.js";

describe("digest authentication", () => {
  it("computes the RFC 2617 (MD5) and RFC 7616 (SHA-256) example responses", () => {
    const md5 = digestResponse("MD5", computeHa1("MD5", "Mufasa", "testrealm@host.com", "Circle Of Life"), "dcd98b7102dd2f0e8b11d0f600bfb0c093", "GET", "/dir/index.html", { qop: "auth", nc: "00000001", cnonce: "0a4f113b" });
    assert.equal(md5, "6629fae49393a05397450978507c4ef1");
    const sha = digestResponse("SHA-256", computeHa1("SHA-256", "Mufasa", "http-auth@example.org", "Circle of Life"), "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v", "GET", "/dir/index.html", { qop: "auth", nc: "00000001", cnonce: "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ" });
    assert.equal(sha, "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1");
  });

  let now = 1_000_000;
  const store = new MemoryCredentialStore("example.test");
  store.set("alice", { password: "wonderland" });
  store.set("bob", { ha1: { MD5: computeHa1("MD5", "bob", "example.test", "builder") } });
  const auth = new DigestAuthenticator(store, { realm: "example.test", nonceTtlMs: 60_000, now: () => now });

  function answer(user: string, password: string, alg: "MD5" | "SHA-256", nonce: string, nc = "00000001", uri = "sip:example.test"): string {
    const response = digestResponse(alg, computeHa1(alg, user, "example.test", password), nonce, "REGISTER", uri, { qop: "auth", nc, cnonce: "abc" });
    return `Digest username="${user}", realm="example.test", nonce="${nonce}", uri="${uri}", response="${response}", algorithm=${alg}, qop=auth, nc=${nc}, cnonce="abc"`;
  }
  const nonceOf = (challenge: string) => /nonce="([^"]+)"/.exec(challenge)![1]!;

  it("challenges with SHA-256 first, then MD5 (RFC 8760), and accepts either", () => {
    const ch = auth.challenges();
    assert.match(ch[0]!, /algorithm=SHA-256, qop="auth"$/);
    assert.match(ch[1]!, /algorithm=MD5/);
    assert.deepEqual(auth.verify("REGISTER", [answer("alice", "wonderland", "SHA-256", nonceOf(ch[0]!))], "sip:example.test"), { ok: true, username: "alice" });
    assert.deepEqual(auth.verify("REGISTER", [answer("bob", "builder", "MD5", nonceOf(ch[1]!))], "sip:example.test"), { ok: true, username: "bob" }, "HA1-only credentials");
  });

  it("refuses wrong passwords, unknown users, forged nonces and replays", () => {
    const nonce = nonceOf(auth.challenges()[0]!);
    assert.equal(auth.verify("REGISTER", [answer("alice", "nope", "SHA-256", nonce)], "sip:example.test").ok, false);
    assert.deepEqual(auth.verify("REGISTER", [answer("mallory", "x", "MD5", nonce)], "sip:example.test"), { ok: false, reason: "unknown-user", username: "mallory" });
    const forged = nonce.slice(0, -2) + (nonce.endsWith("AA") ? "BB" : "AA");
    assert.equal((auth.verify("REGISTER", [answer("alice", "wonderland", "MD5", forged)], "sip:example.test") as { reason: string }).reason, "bad-nonce");
    const first = answer("alice", "wonderland", "MD5", nonce, "00000001");
    assert.equal(auth.verify("REGISTER", [first], "sip:example.test").ok, true);
    assert.deepEqual(auth.verify("REGISTER", [first], "sip:example.test"), { ok: false, reason: "replay", username: "alice" });
    assert.equal(auth.verify("REGISTER", [answer("alice", "wonderland", "MD5", nonce, "00000002")], "sip:example.test").ok, true, "a higher nonce count is fine");
    assert.deepEqual(auth.verify("REGISTER", [], "sip:example.test"), { ok: false, reason: "no-credentials" });
  });

  it("says stale when the nonce expired, so the client retries without asking the user", () => {
    const nonce = nonceOf(auth.challenges()[0]!);
    now += 61_000;
    assert.deepEqual(auth.verify("REGISTER", [answer("alice", "wonderland", "SHA-256", nonce)], "sip:example.test"), { ok: false, reason: "stale", username: "alice" });
    assert.match(auth.challenges(true)[0]!, /stale=true/);
  });

  it("bounds its replay records: past the cap the oldest are evicted and their nonces turn stale, never replayable", () => {
    let t = 5_000_000;
    const small = new DigestAuthenticator(store, { realm: "example.test", nonceTtlMs: 60_000, maxReplayRecords: 100, now: () => t });
    const answers: string[] = [];
    for (let i = 0; i < 300; i++) {
      t += 1;
      const a = answer("alice", "wonderland", "MD5", nonceOf(small.challenges()[1]!));
      assert.equal(small.verify("REGISTER", [a], "sip:example.test").ok, true);
      answers.push(a);
    }
    // The first answers' records were evicted: their nonces are stale now, so a replay gets a new challenge, not a pass.
    assert.deepEqual(small.verify("REGISTER", [answers[0]!], "sip:example.test"), { ok: false, reason: "stale", username: "alice" });
    assert.deepEqual(small.verify("REGISTER", [answers[299]!], "sip:example.test"), { ok: false, reason: "replay", username: "alice" });
  });

  it("parses credentials with quoted commas and odd spacing", () => {
    const d = parseDigest('Digest  username="a,b" ,realm="r", nonce="n",uri="sip:x", response="ABC", qop=auth, nc=00000001, cnonce="c"');
    assert.equal(d?.username, "a,b");
    assert.equal(d?.response, "abc");
    assert.equal(parseDigest("Basic abc"), undefined);
    assert.equal(parseDigest('Digest username="a"'), undefined);
  });
});
