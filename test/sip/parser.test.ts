import { describe, it } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { formatVia, parseMessage, parseUri, serializeMessage, StreamFramer, SipRequest, SipResponse, type FrameEvent } from "../../src/sip/message/index.js";
import { INVALID, msg, VALID } from "./torture.js";

describe("SIP parser on the RFC 4475 torture messages", () => {
  for (const [name, bytes] of Object.entries(VALID)) {
    it(`accepts ${name}`, () => {
      const r = parseMessage(bytes);
      assert.ok(r.ok, r.ok ? "" : r.error.reason);
    });
  }
  for (const [name, { bytes, status, reason }] of Object.entries(INVALID)) {
    it(`rejects ${name} (${status ?? "no answer"})`, () => {
      const r = parseMessage(bytes);
      assert.equal(r.ok, false);
      if (r.ok) return;
      assert.equal(r.error.status, status);
      assert.match(r.error.reason, reason);
      if (status !== undefined) assert.ok(r.error.request, "enough of the request is kept to answer it");
    });
  }

  it("reads wsinv the way RFC 4475 3.1.1.1 describes", () => {
    const r = parseMessage(VALID["wsinv"]!);
    assert.ok(r.ok);
    const m = r.message as SipRequest;
    assert.equal(m.method, "INVITE");
    assert.equal(m.get("max-forwards"), "0068");
    assert.deepEqual(m.cseq, { seq: 9, method: "INVITE" });
    assert.equal(m.to?.params.get("tag"), "1918181833n");
    assert.equal(m.from?.displayName, 'J Rosenberg \\"');
    assert.equal(m.from?.params.get("tag"), "98asjd8");
    assert.equal(m.get("subject"), "");
    assert.equal(m.get("newfangledheader"), "newfangled value continued newfangled value");
    assert.equal(m.get("unknownheaderwithunusualvalue"), ";;,,;;,;");
    assert.deepEqual(m.vias.length, 3);
    assert.equal(m.via?.transport, "UDP");
    assert.equal(m.via?.params.get("branch"), "390skdjuw");
    assert.equal(m.via?.params.get("rport"), null);
    const contact = m.getAll("contact");
    assert.equal(contact.length, 1);
    assert.equal(m.body.length, 150);
    assert.match(m.body.toString(), /^v=0\r\n/);
  });

  it("keeps only the first request of a datagram whose Content-Length says so (dblreq)", () => {
    const r = parseMessage(VALID["dblreq"]!);
    assert.ok(r.ok);
    assert.equal((r.message as SipRequest).method, "REGISTER");
    assert.equal(r.message.body.length, 0);
  });

  it("parses the URIs of intmeth, esc01 and semiuri", () => {
    const intmeth = parseUri("sip:1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*:&it+has=1,weird!*pas$wo~d_too.(doesn't-it)@example.com");
    assert.ok(intmeth.ok && intmeth.uri.kind === "sip");
    assert.equal(intmeth.uri.user, "1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*");
    assert.equal(intmeth.uri.host, "example.com");
    const semi = parseUri("sip:user;par=u%40example.net@example.com");
    assert.ok(semi.ok && semi.uri.kind === "sip");
    assert.equal(semi.uri.user, "user;par=u%40example.net");
    const v6 = parseUri("sips:alice@[2001:db8::10]:5061;transport=tcp?subject=hi");
    assert.ok(v6.ok && v6.uri.kind === "sip");
    assert.deepEqual([v6.uri.host, v6.uri.port, v6.uri.params.get("transport"), v6.uri.headers], ["[2001:db8::10]", 5061, "tcp", "subject=hi"]);
    const tel = parseUri("tel:+1-201-555-0123");
    assert.ok(tel.ok && tel.uri.kind === "other");
  });

  it("round-trips through the serializer with a correct Content-Length", () => {
    for (const [name, bytes] of Object.entries(VALID)) {
      const first = parseMessage(bytes);
      assert.ok(first.ok, name);
      const again = parseMessage(serializeMessage(first.message));
      assert.ok(again.ok, `${name}: ${again.ok ? "" : again.error.reason}`);
      assert.deepEqual(again.message.headers.filter((h) => h.key !== "content-length"), first.message.headers.filter((h) => h.key !== "content-length"));
      assert.ok(again.message.body.equals(first.message.body));
    }
  });

  it("never throws and always reports a reason on arbitrary input (fuzz)", () => {
    const base = VALID["wsinv"]!;
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 600 }), fc.nat(base.length), fc.nat(base.length), (noise, at, cut) => {
        for (const input of [Buffer.from(noise), Buffer.concat([base.subarray(0, at), Buffer.from(noise), base.subarray(at)]), base.subarray(0, cut)]) {
          const r = parseMessage(input);
          if (!r.ok) assert.ok(r.error.reason.length > 0);
        }
      }),
      { numRuns: 2000, interruptAfterTimeLimit: 5000 },
    );
  });
});

describe("stream framing (RFC 3261 18.3, RFC 5626 3.5.1)", () => {
  const invite = VALID["inv2543"]!;
  const options = VALID["lwsdisp"]!;

  it("frames back-to-back messages split at every byte, with keepalives between them", () => {
    const wire = Buffer.concat([Buffer.from("\r\n\r\n"), invite, Buffer.from("\r\n"), options]);
    for (let cut = 1; cut < wire.length; cut += 7) {
      const f = new StreamFramer();
      const events: FrameEvent[] = [...f.push(wire.subarray(0, cut)), ...f.push(wire.subarray(cut))];
      const kinds = events.map((e) => e.kind);
      assert.deepEqual(kinds.filter((k) => k === "message").length, 2, `cut ${cut}`);
      assert.ok(events.every((e) => e.kind !== "fatal"));
    }
    const f = new StreamFramer();
    assert.deepEqual(f.push(Buffer.from("\r\n\r\n")).map((e) => e.kind), ["ping"]);
    assert.deepEqual(f.push(Buffer.from("\r\n")).map((e) => e.kind), ["pong"]);
  });

  it("requires Content-Length and stops at the first framing error", () => {
    const noCl = msg(`OPTIONS sip:a@b.c SIP/2.0
Via: SIP/2.0/TCP h;branch=z9hG4bK1
To: <sip:a@b.c>
From: <sip:x@b.c>;tag=1
Call-ID: 1
CSeq: 1 OPTIONS

`);
    const f = new StreamFramer();
    const ev = f.push(Buffer.concat([noCl, options]));
    assert.deepEqual(ev.map((e) => e.kind), ["fatal"]);
    assert.equal(f.closed, true);
    assert.deepEqual(f.push(options), []);
  });

  it("refuses oversized messages without buffering them", () => {
    const f = new StreamFramer(1024);
    const ev = f.push(Buffer.from(`INVITE sip:a@b.c SIP/2.0\r\nContent-Length: 5000\r\n\r\n`));
    assert.equal(ev[0]?.kind, "fatal");
    const g = new StreamFramer(1024);
    assert.equal(g.push(Buffer.alloc(2000, 0x41))[0]?.kind, "fatal");
  });

  it("parses responses too", () => {
    const ev = new StreamFramer().push(VALID["noreason"]!);
    const m = ev[0]?.kind === "message" && ev[0].result.ok ? ev[0].result.message : undefined;
    assert.ok(m instanceof SipResponse);
    assert.equal(m.status, 100);
    assert.equal(m.reason, "");
  });
});

describe("request copies and the top Via (what a proxy does to a message)", () => {
  const text = ["MESSAGE sip:bob@example.test SIP/2.0", "Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKc1;rport", "Route: <sip:a.example.test;lr>", "From: <sip:alice@example.test>;tag=f1", "To: <sip:bob@example.test>", "Call-ID: copy1", "CSeq: 7 MESSAGE", "Max-Forwards: 70", "Content-Length: 2", "", "hi"].join("\r\n");
  const parsed = () => {
    const r = parseMessage(Buffer.from(text));
    assert.ok(r.ok && r.message instanceof SipRequest);
    return r.message;
  };

  it("a branch copy shares nothing its mutators could change in the original", () => {
    const req = parsed();
    const before = serializeMessage(req).toString("latin1");
    const copy = req.copyFor("sip:bob@192.0.2.9:5070");
    copy.prepend("via", "SIP/2.0/UDP 192.0.2.2:5060;branch=z9hG4bK-mine");
    copy.prepend("record-route", "<sip:192.0.2.2;lr>");
    copy.set("max-forwards", "69");
    copy.shift("route");
    copy.remove("call-id");
    assert.equal(serializeMessage(req).toString("latin1"), before);
    assert.equal(copy.uri, "sip:bob@192.0.2.9:5070");
    assert.equal(copy.via?.params.get("branch"), "z9hG4bK-mine");
    assert.equal(copy.get("max-forwards"), "69");
    assert.equal(copy.from?.params.get("tag"), "f1");
    assert.equal(copy.cseq.seq, 7);
    assert.equal(copy.body.toString(), "hi");
  });

  it("replaceTopVia keeps the changed Via parsed and serialises it", () => {
    const req = parsed();
    const via = req.via!;
    via.params.set("received", "198.51.100.7");
    req.replaceTopVia(via, formatVia(via));
    assert.equal(req.via, via);
    assert.match(serializeMessage(req).toString("latin1"), /Via: SIP\/2.0\/UDP 192.0.2.1:5060;branch=z9hG4bKc1;rport;received=198.51.100.7\r\n/);
    assert.equal(req.vias.length, 1);
  });
});
