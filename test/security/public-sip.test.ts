import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { SipServer, MemoryCredentialStore } from "../../src/sip/index.js";
import { MemoryLogger } from "../support/memory-logger.js";
import { waitFor } from "../support/wait-for.js";
import { answer, header, headers, isFinal, isRequest, isStatus, RawUa, sipMessage, statusOf, type Peer } from "./raw-ua.js";
import { testIp, testNetRe } from "../support/slot.js";

/**
 * Issue 10, public SIP: who may send what (items 1, 2, 6, 7, 10), against a
 * real SipServer on testIp(100, 1) with hand-written user agents on
 * testIp(100, 0)/24 sending exactly what an attacker would.
 */
describe("public SIP: who may send what (issue 10)", () => {
  const HOST = testIp(100, 1);
  const CALLEES = ["bob1", "bob2", "bob3", "bob4", "bob5", "bob6", "bob7"];
  const log = new MemoryLogger();
  let server: SipServer;
  let udp: Peer;
  let tcp: Peer;
  const uas: RawUa[] = [];
  let seq = 0;
  const next = () => `${process.pid}-${++seq}`;
  const ua = async (ip: string, transport: "udp" | "tcp" = "udp") => {
    const u = transport === "udp" ? await RawUa.udp(ip) : await RawUa.tcp(ip, tcp);
    uas.push(u);
    return u;
  };

  before(async () => {
    const creds = new MemoryCredentialStore("a.test");
    creds.set("alice", { password: "a-pw" }, "a.test");
    creds.set("alice", { password: "b-pw" }, "b.test");
    creds.set("carol", { password: "carol-pw" }, "legacy.test");
    creds.set("dave", { password: "dave-pw" }, "a.test");
    // One callee account per test, so calls do not fork to the user agents of other tests.
    for (const n of CALLEES) creds.set(n, { password: `${n}-pw` }, "a.test");
    server = new SipServer({
      logger: log,
      listen: [
        { transport: "udp", host: HOST, port: 0 },
        { transport: "tcp", host: HOST, port: 0 },
      ],
      domains: ["a.test", "b.test", "legacy.test"],
      credentials: creds,
      algorithms: ["MD5"],
      digestWithoutQop: ["legacy.test"],
      guard: { maxAuthFailures: 10_000 },
    });
    await server.start();
    const b = server.transport.bound();
    udp = { host: HOST, port: b.find((x) => x.transport === "udp")!.boundPort };
    tcp = { host: HOST, port: b.find((x) => x.transport === "tcp")!.boundPort };
  });

  after(async () => {
    for (const u of uas) u.close();
    await server.stop();
  });

  const via = (u: RawUa) => `Via: SIP/2.0/${u.transport.toUpperCase()} ${u.sentBy};branch=z9hG4bK-${next()};rport`;
  const to = (u: RawUa): Peer => (u.transport === "udp" ? udp : tcp);

  /** REGISTER `user@domain` from `u` (challenge, then credentials); resolves to the final response. */
  async function register(u: RawUa, user: string, domain: string, password: string, o: { aorDomain?: string; realm?: string } = {}): Promise<string> {
    const callId = `reg-${next()}`;
    const aor = `sip:${user}@${o.aorDomain ?? domain}`;
    const req = (cseq: number, extra: string[]) =>
      sipMessage([`REGISTER sip:${domain} SIP/2.0`, via(u), `From: <${aor}>;tag=r${cseq}`, `To: <${aor}>`, `Call-ID: ${callId}`, `CSeq: ${cseq} REGISTER`, `Contact: <sip:${user}@${u.sentBy}>`, "Expires: 600", "Max-Forwards: 70", ...extra]);
    const mark = u.received.length;
    u.send(req(1, []), to(u));
    const ch = await u.next(isFinal("REGISTER"), "challenge", mark);
    if (statusOf(ch) !== 401) return ch;
    const mark2 = u.received.length;
    u.send(req(2, [`Authorization: ${answer(header(ch, "WWW-Authenticate")!, { user, password, method: "REGISTER", uri: `sip:${domain}`, ...(o.realm ? { realm: o.realm } : {}) })}`]), to(u));
    return u.next(isFinal("REGISTER"), "REGISTER answer", mark2);
  }

  /** An INVITE from `caller` to `bob@a.test` (registered at `callee`) answered 200 by the callee; returns what a UA needs to continue the dialog. */
  async function dialog(caller: RawUa, callee: RawUa, user: string, from = "sip:zed@elsewhere.test"): Promise<{ callId: string; routeSet: string[]; target: string; user: string; fromTag: string; toTag: string; invite: string }> {
    const callId = `call-${next()}`;
    const mark = callee.received.length;
    caller.send(sipMessage([`INVITE sip:${user}@a.test SIP/2.0`, via(caller), `From: <${from}>;tag=ft${seq}`, `To: <sip:${user}@a.test>`, `Call-ID: ${callId}`, "CSeq: 1 INVITE", `Contact: <sip:zed@${caller.sentBy}>`, "Max-Forwards: 70"]), to(caller));
    const invite = await callee.next((m) => isRequest("INVITE")(m) && m.includes(callId), "INVITE at the callee", mark);
    // The callee answers 200 with a To tag, echoing Via and Record-Route (RFC 3261 12.1.1).
    const vias = headers(invite, "Via");
    const rr = headers(invite, "Record-Route");
    const ok = sipMessage(["SIP/2.0 200 OK", ...vias.map((v) => `Via: ${v}`), ...rr.map((r) => `Record-Route: ${r}`), `From: ${header(invite, "From")}`, `To: ${header(invite, "To")};tag=tt${seq}`, `Call-ID: ${callId}`, "CSeq: 1 INVITE", `Contact: <sip:${user}@${callee.sentBy}>`]);
    const callerMark = caller.received.length;
    callee.send(ok, to(callee));
    const final = await caller.next((m) => isStatus(200, "INVITE")(m) && m.includes(callId), "200 at the caller", callerMark);
    return { callId, routeSet: headers(final, "Record-Route"), target: `sip:${user}@${callee.sentBy}`, user, fromTag: `ft${seq}`, toTag: /;tag=([^;\s>]+)/.exec(header(final, "To")!)![1]!, invite };
  }

  /** An in-dialog request from the caller side along `routes` (the reversed Record-Route set). */
  const inDialog = (u: RawUa, method: string, d: { callId: string; target: string; user: string; fromTag: string; toTag: string }, routes: string[], cseq = 2) =>
    sipMessage([`${method} ${d.target} SIP/2.0`, via(u), `From: <sip:zed@elsewhere.test>;tag=${d.fromTag}`, `To: <sip:${d.user}@a.test>;tag=${d.toTag}`, `Call-ID: ${d.callId}`, `CSeq: ${cseq} ${method}`, ...routes.map((r) => `Route: ${r}`), "Max-Forwards: 70"]);

  describe("item 1: in-dialog requests and ACKs must bring our signed Record-Route back", () => {
    it("one datagram with a To tag and a forged Route to a victim is refused 403 and reaches nobody", async () => {
      const victim = await ua(testIp(100, 66));
      const attacker = await ua(testIp(100, 9));
      const cases = [
        { name: "Route to the victim", route: [`<sip:${victim.sentBy};lr>`], ruri: `sip:v@${victim.sentBy}` },
        { name: "no Route, Request-URI of the victim", route: [], ruri: `sip:v@${victim.sentBy}` },
        { name: "our own address twice, then the victim", route: [`<sip:${HOST}:${udp.port};lr>`, `<sip:${HOST}:${udp.port};lr>`, `<sip:${victim.sentBy};lr>`], ruri: `sip:v@${victim.sentBy}` },
      ];
      for (const c of cases) {
        const mark = attacker.received.length;
        attacker.send(sipMessage([`MESSAGE ${c.ruri} SIP/2.0`, via(attacker), "From: <sip:spam@elsewhere.test>;tag=1", "To: <sip:v@victim.test>;tag=2", `Call-ID: relay-${next()}`, "CSeq: 1 MESSAGE", ...c.route.map((r) => `Route: ${r}`), "Max-Forwards: 70", "Content-Type: text/plain"], "hi"), udp);
        const res = await attacker.next(isFinal("MESSAGE"), `answer to ${c.name}`, mark);
        assert.equal(statusOf(res), 403, `${c.name}: ${res.split("\r\n")[0]}`);
      }
      assert.equal(victim.received.length, 0, "the victim got nothing");
    });

    /** ACKs dropped for `detail` so far: logged at warn as `request dropped`, reason outside-dialog (src/sip/proxy/drops.ts). */
    const ackDrops = (detail: string) => log.entries.filter((e) => e.msg === "request dropped" && e.level === "warn" && e.fields["method"] === "ACK" && e.fields["reason"] === "outside-dialog" && e.fields["detail"] === detail).length;

    it("an ACK with a To tag and no route of ours is dropped, not forwarded", async () => {
      const victim = await ua(testIp(100, 67));
      const attacker = await ua(testIp(100, 10));
      const before = ackDrops("no route token of ours");
      attacker.send(sipMessage([`ACK sip:v@${victim.sentBy} SIP/2.0`, via(attacker), "From: <sip:spam@elsewhere.test>;tag=1", "To: <sip:v@victim.test>;tag=2", `Call-ID: ack-${next()}`, "CSeq: 1 ACK", `Route: <sip:${victim.sentBy};lr>`, "Max-Forwards: 70"]), udp);
      await waitFor(() => ackDrops("no route token of ours") > before, { message: "the ACK dropped" });
      assert.equal(victim.received.length, 0);
    });

    it("a real dialog: ACK and BYE along our signed Record-Route reach the callee", async () => {
      const callee = await ua(testIp(100, 20));
      const caller = await ua(testIp(100, 30));
      assert.equal(statusOf(await register(callee, "bob1", "a.test", "bob1-pw")), 200);
      const d = await dialog(caller, callee, "bob1");
      assert.equal(d.routeSet.length, 1);
      assert.match(d.routeSet[0]!, new RegExp(String.raw`^<sip:ft\.[a-z0-9]+\.[0-9a-z]+\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]{22}@${testNetRe(100)}\.1:\d+;transport=udp;lr>$`));
      const mark = callee.received.length;
      caller.send(inDialog(caller, "ACK", d, d.routeSet, 1), udp);
      await callee.next((m) => isRequest("ACK")(m) && m.includes(d.callId), "ACK at the callee", mark);
      caller.send(inDialog(caller, "BYE", d, d.routeSet), udp);
      const bye = await callee.next((m) => isRequest("BYE")(m) && m.includes(d.callId), "BYE at the callee", mark);
      assert.equal(header(bye, "Route"), undefined, "our Route was popped");
    });

    it("a party of a dialog cannot use it to reach a third host: appended Route or changed Request-URI", async () => {
      const callee = await ua(testIp(100, 25));
      const caller = await ua(testIp(100, 35));
      const victim = await ua(testIp(100, 68));
      assert.equal(statusOf(await register(callee, "bob6", "a.test", "bob6-pw")), 200);
      const d = await dialog(caller, callee, "bob6");
      const mark = caller.received.length;
      caller.send(inDialog(caller, "INFO", d, [...d.routeSet, `<sip:${victim.sentBy};lr>`]), udp);
      assert.equal(statusOf(await caller.next(isFinal("INFO"), "answer to the appended Route", mark)), 403);
      // From a third address the token's flows are the two parties: the request goes to one of them, never to the Request-URI.
      const third = await ua(testIp(100, 36));
      const m3 = callee.received.length;
      third.send(inDialog(third, "INFO", { ...d, target: `sip:v@${victim.sentBy}` }, d.routeSet, 3), udp);
      await waitFor(() => callee.received.length > m3 || caller.received.length > mark + 1, { message: "the INFO reached a party of the dialog" });
      const before = ackDrops("next hop outside the dialog");
      caller.send(inDialog(caller, "ACK", d, [...d.routeSet, `<sip:${victim.sentBy};lr>`], 1), udp);
      await waitFor(() => ackDrops("next hop outside the dialog") > before, { message: "the ACK dropped" });
      assert.equal(victim.received.length, 0, "the victim got nothing");
    });

    it("a Route token that does not verify is refused 403, never used: tampered, foreign dialog, or made up", async () => {
      const callee = await ua(testIp(100, 21));
      const caller = await ua(testIp(100, 31));
      assert.equal(statusOf(await register(callee, "bob2", "a.test", "bob2-pw")), 200);
      const d = await dialog(caller, callee, "bob2");
      const rr = d.routeSet[0]!;
      const token = /<sip:([^@]+)@/.exec(rr)![1]!;
      const parts = token.split(".");
      const tampered = rr.replace(token, [...parts.slice(0, 3), Buffer.from(`u:9:${caller.ip}`).toString("base64url"), parts[4]].join("."));
      const madeUp = rr.replace(token, `ft.${parts[1]}.zzzzzz..AAAAAAAAAAAAAAAAAAAAAA`);
      const attempts = [
        { name: "tampered flow reference", d, route: tampered },
        { name: "token of another dialog", d: { ...d, callId: `other-${next()}` }, route: rr },
        { name: "made-up token", d, route: madeUp },
      ];
      const mark = callee.received.length;
      for (const a of attempts) {
        const m = caller.received.length;
        caller.send(inDialog(caller, "INFO", a.d, [a.route]), udp);
        const res = await caller.next(isFinal("INFO"), a.name, m);
        assert.equal(statusOf(res), 403, `${a.name}: ${res.split("\r\n")[0]}`);
        assert.match(res.split("\r\n")[0]!, /invalid route token/);
      }
      assert.equal(callee.received.slice(mark).filter((m) => !m.startsWith("SIP/2.0")).length, 0, "nothing reached the callee");
    });
  });

  describe("item 2: flow tokens are unforgeable and connection ids random", () => {
    it("a forged token naming a subscriber's connection is refused 403, and connection ids are random", async () => {
      // bob registers over TCP: his connection is the only way to reach him.
      const bob = await ua(testIp(100, 22), "tcp");
      assert.equal(statusOf(await register(bob, "bob3", "a.test", "bob3-pw")), 200);
      // The attacker guesses sequential ids in the old format (plain base64 of the reference)
      // and makes up tags in the signed format.
      const attacker = await ua(testIp(100, 11));
      const guesses = ["c:tcp#1", "c:tcp#2", "c:tcp#3"].map((r) => Buffer.from(r).toString("base64url"));
      const forged = [...guesses.map((g) => `ft-${g}`), ...guesses.map((g) => `ft.eph.zzzzzz.${g}.AAAAAAAAAAAAAAAAAAAAAA`)];
      const mark = bob.received.length;
      for (const user of forged) {
        const m = attacker.received.length;
        attacker.send(sipMessage([`MESSAGE sip:x@198.51.100.7 SIP/2.0`, via(attacker), "From: <sip:spam@elsewhere.test>;tag=1", "To: <sip:x@elsewhere.test>;tag=2", `Call-ID: flow-${next()}`, "CSeq: 1 MESSAGE", `Route: <sip:${user}@${HOST}:${udp.port};lr>`, "Max-Forwards: 70"], "spam"), udp);
        assert.equal(statusOf(await attacker.next(isFinal("MESSAGE"), "answer", m)), 403, user);
      }
      assert.equal(bob.received.slice(mark).length, 0, "nothing was pushed onto bob's connection");
      // The reference to bob's connection, as our Record-Route names it, is random.
      const caller = await ua(testIp(100, 32));
      const d = await dialog(caller, bob, "bob3");
      const payload = /<sip:ft\.[a-z0-9]+\.[0-9a-z]+\.([A-Za-z0-9_-]*)\./.exec(d.routeSet[0]!)?.[1] ?? "";
      const refs = Buffer.from(payload, "base64url").toString("utf8").split(" ");
      const conn = refs.find((r) => r.startsWith("c:"));
      assert.match(conn ?? "", /^c:tcp#[A-Za-z0-9_-]{16}$/, `a random id, not tcp#1 (${refs.join(" ")})`);
    });
  });

  describe("item 6: identity per domain", () => {
    it("the realm is the AOR's domain: alice@a's password does not register alice@b", async () => {
      const u = await ua(testIp(100, 40));
      const wrong = await register(u, "alice", "b.test", "a-pw");
      assert.equal(statusOf(wrong), 401, wrong.split("\r\n")[0]);
      const realmA = await register(u, "alice", "b.test", "a-pw", { realm: "a.test" });
      assert.equal(statusOf(realmA), 401, "an answer in realm a.test does not count for b.test");
      assert.equal(statusOf(await register(u, "alice", "b.test", "b-pw")), 200);
      assert.equal(statusOf(await register(u, "alice", "a.test", "a-pw")), 200);
    });

    it("the challenge names the domain of the AOR as realm", async () => {
      const u = await ua(testIp(100, 41));
      const mark = u.received.length;
      u.send(sipMessage(["REGISTER sip:b.test SIP/2.0", via(u), "From: <sip:alice@b.test>;tag=1", "To: <sip:alice@b.test>", `Call-ID: realm-${next()}`, "CSeq: 1 REGISTER", `Contact: <sip:alice@${u.sentBy}>`, "Max-Forwards: 70"]), udp);
      const ch = await u.next(isFinal("REGISTER"), "challenge", mark);
      assert.match(header(ch, "WWW-Authenticate")!, /realm="b\.test"/);
    });

    it("a trailing dot or capitals in the From host do not skip authentication", async () => {
      const callee = await ua(testIp(100, 23));
      assert.equal(statusOf(await register(callee, "bob4", "a.test", "bob4-pw")), 200);
      const caller = await ua(testIp(100, 42));
      for (const from of ["sip:alice@a.test.", "sip:alice@A.TEST"]) {
        const mark = caller.received.length;
        caller.send(sipMessage(["INVITE sip:bob4@a.test SIP/2.0", via(caller), `From: <${from}>;tag=1`, "To: <sip:bob4@a.test>", `Call-ID: dot-${next()}`, "CSeq: 1 INVITE", `Contact: <sip:alice@${caller.sentBy}>`, "Max-Forwards: 70"]), udp);
        const res = await caller.next(isFinal("INVITE"), `answer for ${from}`, mark);
        assert.equal(statusOf(res), 407, `${from}: ${res.split("\r\n")[0]}`);
        assert.match(header(res, "Proxy-Authenticate")!, /realm="a\.test"/);
      }
      assert.equal(callee.count(isRequest("INVITE")), 0);
    });

    it("identity headers from clients are removed; an authenticated caller is asserted (RFC 3325)", async () => {
      const callee = await ua(testIp(100, 24));
      assert.equal(statusOf(await register(callee, "bob5", "a.test", "bob5-pw")), 200);
      // A foreign caller claiming to be alice.
      const liar = await ua(testIp(100, 43));
      const callId = `pai-${next()}`;
      const mark = callee.received.length;
      liar.send(sipMessage(["MESSAGE sip:bob5@a.test SIP/2.0", via(liar), "From: <sip:zed@elsewhere.test>;tag=1", "To: <sip:bob5@a.test>", `Call-ID: ${callId}`, "CSeq: 1 MESSAGE", "P-Asserted-Identity: <sip:alice@a.test>", "P-Preferred-Identity: <sip:alice@a.test>", 'Remote-Party-ID: "Alice" <sip:alice@a.test>;party=calling', "Max-Forwards: 70"], "x"), udp);
      const got = await callee.next((m) => m.includes(callId) && isRequest("MESSAGE")(m), "MESSAGE at bob", mark);
      for (const h of ["P-Asserted-Identity", "P-Preferred-Identity", "Remote-Party-ID"]) assert.equal(header(got, h), undefined, `${h} removed`);
      // alice, authenticated, is asserted.
      const alice = await ua(testIp(100, 44));
      const id2 = `pai-${next()}`;
      const msg = (cseq: number, extra: string[]) => sipMessage(["MESSAGE sip:bob5@a.test SIP/2.0", via(alice), "From: <sip:alice@a.test>;tag=1", "To: <sip:bob5@a.test>", `Call-ID: ${id2}`, `CSeq: ${cseq} MESSAGE`, "P-Asserted-Identity: <sip:carol@a.test>", ...extra, "Max-Forwards: 70"], "x");
      alice.send(msg(1, []), udp);
      const ch = await alice.next(isStatus(407, "MESSAGE"), "407");
      alice.send(msg(2, [`Proxy-Authorization: ${answer(header(ch, "Proxy-Authenticate")!, { user: "alice", password: "a-pw", method: "MESSAGE", uri: "sip:bob5@a.test" })}`]), udp);
      const fwd = await callee.next((m) => m.includes(id2) && isRequest("MESSAGE")(m), "alice's MESSAGE at bob");
      assert.deepEqual(headers(fwd, "P-Asserted-Identity"), ["<sip:alice@a.test>"]);
      assert.equal(header(fwd, "Proxy-Authorization"), undefined);
    });
  });

  describe("item 7: digest answers are checked for qop, uri and replay", () => {
    /** REGISTER alice@a.test with a chosen Authorization; returns the status. */
    async function registerWith(u: RawUa, domain: string, user: string, auth: (challenge: string) => string | string[]): Promise<{ status: number; challenge: string; answers: string[] }> {
      const callId = `dg-${next()}`;
      const req = (cseq: number, extra: string[]) => sipMessage([`REGISTER sip:${domain} SIP/2.0`, via(u), `From: <sip:${user}@${domain}>;tag=1`, `To: <sip:${user}@${domain}>`, `Call-ID: ${callId}`, `CSeq: ${cseq} REGISTER`, `Contact: <sip:${user}@${u.sentBy}>`, "Max-Forwards: 70", ...extra]);
      const mark = u.received.length;
      u.send(req(1, []), udp);
      const ch = await u.next(isFinal("REGISTER"), "challenge", mark);
      const values = [auth(header(ch, "WWW-Authenticate")!)].flat();
      const answers: string[] = [];
      let cseq = 2;
      for (const v of values) {
        const m = u.received.length;
        u.send(req(cseq++, [`Authorization: ${v}`]), udp);
        answers.push(await u.next(isFinal("REGISTER"), "answer", m));
      }
      return { status: statusOf(answers.at(-1)!)!, challenge: ch, answers };
    }

    it("an answer without qop is refused where qop is required", async () => {
      const u = await ua(testIp(100, 50));
      const r = await registerWith(u, "a.test", "dave", (c) => answer(c, { user: "dave", password: "dave-pw", method: "REGISTER", uri: "sip:a.test", qop: false }));
      assert.equal(r.status, 401);
    });

    it("a digest uri other than the Request-URI is refused, even with the right password", async () => {
      const u = await ua(testIp(100, 51));
      const r = await registerWith(u, "a.test", "dave", (c) => answer(c, { user: "dave", password: "dave-pw", method: "REGISTER", uri: "sip:b.test" }));
      assert.equal(r.status, 401);
      assert.ok(log.entries.some((e) => e.msg === "authentication failed" && e.fields["reason"] === "wrong-uri"));
    });

    it("a captured Authorization replayed (same nonce count) is refused; a higher count is fine", async () => {
      const u = await ua(testIp(100, 52));
      const r = await registerWith(u, "a.test", "dave", (c) => {
        const a = answer(c, { user: "dave", password: "dave-pw", method: "REGISTER", uri: "sip:a.test" });
        return [a, a, answer(c, { user: "dave", password: "dave-pw", method: "REGISTER", uri: "sip:a.test", nc: "00000002" })];
      });
      assert.deepEqual(r.answers.map(statusOf), [200, 401, 200]);
    });

    it("a legacy domain may answer without qop, once per nonce; a replay gets a fresh stale nonce", async () => {
      const u = await ua(testIp(100, 53));
      const r = await registerWith(u, "legacy.test", "carol", (c) => {
        const a = answer(c, { user: "carol", password: "carol-pw", method: "REGISTER", uri: "sip:legacy.test", qop: false });
        return [a, a];
      });
      assert.deepEqual(r.answers.map(statusOf), [200, 401]);
      assert.match(header(r.answers[1]!, "WWW-Authenticate")!, /stale=true/);
    });
  });

  describe("item 10: conformance", () => {
    it("an unknown Proxy-Require option gets 420 Bad Extension with Unsupported (RFC 3261 16.3 step 5)", async () => {
      const u = await ua(testIp(100, 60));
      u.send(sipMessage(["OPTIONS sip:bob7@a.test SIP/2.0", via(u), "From: <sip:zed@elsewhere.test>;tag=1", "To: <sip:bob7@a.test>", `Call-ID: pr-${next()}`, "CSeq: 1 OPTIONS", "Proxy-Require: foo, path", "Max-Forwards: 70"]), udp);
      const res = await u.next(isFinal("OPTIONS"), "answer");
      assert.equal(statusOf(res), 420);
      assert.equal(header(res, "Unsupported"), "foo");
    });

    it("a REGISTER whose To is not a SIP or SIPS URI gets 400", async () => {
      const u = await ua(testIp(100, 61));
      u.send(sipMessage(["REGISTER sip:a.test SIP/2.0", via(u), "From: <tel:+15551234>;tag=1", "To: <tel:+15551234>", `Call-ID: tel-${next()}`, "CSeq: 1 REGISTER", `Contact: <sip:x@${u.sentBy}>`, "Max-Forwards: 70"]), udp);
      const res = await u.next(isFinal("REGISTER"), "answer");
      assert.equal(statusOf(res), 400, res.split("\r\n")[0]);
    });
  });
});
