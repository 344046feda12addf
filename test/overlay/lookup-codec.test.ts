import { describe, it } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { formatAnswer, formatError, formatRequest, LookupLineDecoder, parseAnswer, parseRequest, RoleMap, type Entity, type LookupLine } from "../../src/overlay/index.js";

const entity = (id: string, ip: string, roles: string[]): Entity => ({ id, ip, roles, version: "1", ports: {}, attrs: {}, startedAt: 1 });
const map = RoleMap.fromMembers([entity("a", "10.0.0.1", ["sip_proxy"]), entity("b", "10.0.0.2", ["sip_proxy", "media_relay"])]);
const reasonOf = (l: LookupLine | undefined): string => (l?.kind === "error" ? l.reason : "");

describe("lookup protocol: requests", () => {
  it("lookup <role> for <user@domain> (key normalized)", () => {
    assert.deepEqual(parseRequest("lookup sip_proxy for sip:Alice@Example.com;transport=tcp"), { kind: "request", req: { kind: "lookup", role: "sip_proxy", key: "Alice@example.com" } });
    assert.deepEqual(parseRequest("  lookup \t sip_proxy  for alice@example.com  "), { kind: "request", req: { kind: "lookup", role: "sip_proxy", key: "alice@example.com" } });
  });

  it("is_online <ip> as <role>", () => {
    assert.deepEqual(parseRequest("is_online 10.0.0.2 as media_relay"), { kind: "request", req: { kind: "is_online", ip: "10.0.0.2", role: "media_relay" } });
    assert.deepEqual(parseRequest("is_online 2001:db8::1 as sip_proxy"), { kind: "request", req: { kind: "is_online", ip: "2001:db8::1", role: "sip_proxy" } });
  });

  it("explains everything else", () => {
    const cases: Array<[string, string | RegExp]> = [
      ["", "empty request"],
      ["   ", "empty request"],
      ["foo", 'unknown command "foo" (expected lookup or is_online)'],
      ["LOOKUP sip_proxy for a@b.c", /^unknown command "LOOKUP"/],
      ["lookup sip_proxy alice@example.com", 'expected "lookup <role> for <user@domain>"'],
      ["lookup sip_proxy for", 'expected "lookup <role> for <user@domain>"'],
      ["lookup sip_proxy for a@b.c extra", 'expected "lookup <role> for <user@domain>"'],
      ["lookup SIP for a@b.c", 'invalid role "SIP"'],
      ["lookup sip_proxy for alice", 'invalid key: "alice" is not user@domain'],
      ["lookup sip_proxy for @example.com", "invalid key: empty user"],
      ["is_online 10.0.0.1", 'expected "is_online <ip> as <role>"'],
      ["is_online 10.0.0.1 for sip_proxy", 'expected "is_online <ip> as <role>"'],
      ["is_online not-an-ip as sip_proxy", 'invalid address "not-an-ip"'],
      ["is_online 10.0.0.1 as Bad-Role", 'invalid role "Bad-Role"'],
    ];
    for (const [line, want] of cases) {
      const r = parseRequest(line);
      assert.equal(r.kind, "error", line);
      if (typeof want === "string") assert.equal(reasonOf(r), want, line);
      else assert.match(reasonOf(r), want, line);
    }
  });

  it("formats requests that parse back to themselves", () => {
    for (const req of [{ kind: "lookup", role: "sip_proxy", key: "alice@example.com" }, { kind: "is_online", ip: "10.0.0.1", role: "media_relay" }] as const) {
      assert.deepEqual(parseRequest(formatRequest(req)), { kind: "request", req });
    }
  });
});

describe("lookup protocol: answers", () => {
  it("an IP, None, Yes, No or error: <reason>", () => {
    const d = new LookupLineDecoder();
    const lines = d.push(Buffer.from("lookup sip_proxy for alice@example.com\r\nlookup xcap_server for alice@example.com\nis_online 10.0.0.2 as media_relay\nis_online 10.0.0.1 as media_relay\nfrobnicate\n\n"));
    const answers = lines.map((l) => formatAnswer(l, map));
    assert.equal(answers[0], map.lookup("sip_proxy", "alice@example.com")?.ip);
    assert.deepEqual(answers.slice(1), ["None", "Yes", "No", 'error: unknown command "frobnicate" (expected lookup or is_online)', "error: empty request"]);
  });

  it("error: no membership yet, for requests only", () => {
    assert.equal(formatAnswer(parseRequest("lookup sip_proxy for a@b.c"), undefined), "error: no membership yet");
    assert.equal(formatAnswer(parseRequest("nope"), undefined), 'error: unknown command "nope" (expected lookup or is_online)');
  });

  it("error lines are printable ASCII and bounded, so nothing can break the framing", () => {
    assert.equal(formatError("bad\r\nInjected: yes\u0000"), "error: bad??Injected: yes?");
    assert.ok(formatError("x".repeat(10_000)).length < 220);
    const r = parseRequest("\u0000\u00ff\ufffd\u001b[2J as");
    assert.match(formatAnswer(r, map), /^error: unknown command "[\x20-\x7e]*"/);
  });

  it("reads answers back", () => {
    assert.deepEqual(parseAnswer("10.0.0.1"), { kind: "address", ip: "10.0.0.1" });
    assert.deepEqual(parseAnswer("2001:db8::1\r"), { kind: "address", ip: "2001:db8::1" });
    assert.deepEqual(parseAnswer("None"), { kind: "none" });
    assert.deepEqual(parseAnswer("Yes"), { kind: "yes" });
    assert.deepEqual(parseAnswer("No"), { kind: "no" });
    assert.deepEqual(parseAnswer("error: no membership yet"), { kind: "error", reason: "no membership yet" });
    assert.equal(parseAnswer("<html>").kind, "error");
  });
});

describe("lookup protocol: line decoder", () => {
  const requests = "lookup sip_proxy for alice@example.com\r\nis_online 10.0.0.1 as sip_proxy\nfoo\r\n\r\nlookup sip_proxy for bob@example.com\n";

  it("frames LF and CR LF lines the same however the bytes are split", () => {
    const whole = new LookupLineDecoder().push(Buffer.from(requests));
    assert.equal(whole.length, 5);
    const d = new LookupLineDecoder();
    const bytewise: LookupLine[] = [];
    for (const b of Buffer.from(requests)) bytewise.push(...d.push(Buffer.from([b])));
    assert.deepEqual(bytewise, whole);
    assert.equal(d.buffered, 0);
  });

  it("holds an unfinished line until its newline", () => {
    const d = new LookupLineDecoder();
    assert.deepEqual(d.push(Buffer.from("lookup sip_proxy for ali")), []);
    assert.equal(d.buffered, 24);
    assert.deepEqual(d.push(Buffer.from("ce@example.com\r")), []);
    assert.deepEqual(d.push(Buffer.from("\n")), [parseRequest("lookup sip_proxy for alice@example.com")]);
  });

  it("decodes multi-byte UTF-8 split across chunks", () => {
    const bytes = Buffer.from("lookup sip_proxy for 日本@example.jp\n");
    const d = new LookupLineDecoder();
    const out = [...d.push(bytes.subarray(0, 23)), ...d.push(bytes.subarray(23))];
    assert.deepEqual(out, [{ kind: "request", req: { kind: "lookup", role: "sip_proxy", key: "日本@example.jp" } }]);
  });

  it("accepts a line of exactly the limit, CR LF not counted", () => {
    const line = `lookup sip_proxy for ${"a".repeat(32 - 27)}@b.com`;
    assert.equal(line.length, 32);
    const d = new LookupLineDecoder(32);
    assert.equal(d.push(Buffer.from(`${line}\r`)).length, 0);
    assert.equal(d.push(Buffer.from("\n"))[0]?.kind, "request");
    assert.equal(d.mustClose, false);
  });

  it("an over-long line: answers what came before, then line too long, then nothing more", () => {
    const d = new LookupLineDecoder(32);
    const out = d.push(Buffer.from(`foo\n${"x".repeat(33)}\nlookup sip_proxy for a@b.c\n`));
    assert.equal(out.length, 2);
    assert.match(reasonOf(out[0]), /unknown command/);
    assert.deepEqual(out[1], { kind: "error", reason: "line too long (limit 32 bytes)", fatal: true });
    assert.equal(d.mustClose, true);
    assert.deepEqual(d.push(Buffer.from("lookup sip_proxy for a@b.c\n")), []);
  });

  it("an over-long line is refused before its newline arrives (bounded memory)", () => {
    const d = new LookupLineDecoder(32);
    assert.deepEqual(d.push(Buffer.alloc(32, 0x61)), []);
    const out = d.push(Buffer.alloc(1, 0x61));
    assert.equal(out.length, 1);
    assert.match(reasonOf(out[0]), /^line too long/);
    assert.equal(d.mustClose, true);
    assert.equal(d.buffered, 0);
  });

  it("never throws and answers every complete line; stops only after line too long (fuzz)", () => {
    const line = fc.oneof(
      fc.constantFrom("lookup sip_proxy for alice@example.com", "is_online 10.0.0.2 as media_relay", "lookup media_relay for sip:Bob@EXAMPLE.com", "", "\r"),
      fc.string({ unit: "binary", maxLength: 90 }).map((s) => s.replace(/\n/g, "")),
    );
    const stream = fc.tuple(fc.array(line, { maxLength: 12 }), fc.uint8Array({ maxLength: 40 }), fc.array(fc.nat(400), { maxLength: 6 }));
    fc.assert(
      fc.property(stream, ([lines, tail, cuts]) => {
        const bytes = Buffer.concat([Buffer.from(lines.map((l) => `${l}\n`).join(""), "utf8"), Buffer.from(tail)]);
        const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
        const d = new LookupLineDecoder(64);
        const out: LookupLine[] = [];
        let from = 0;
        for (const p of [...points, bytes.length]) {
          out.push(...d.push(bytes.subarray(from, p)));
          from = p;
        }
        for (const l of out) {
          const a = formatAnswer(l, map);
          assert.match(a, /^[\x20-\x7e]+$/, "one printable answer line per request");
        }
        // What the framing should be: every LF ends a line; a line (CR LF excluded) over 64 bytes is fatal.
        const expected: Array<"ok" | "fatal"> = [];
        let start = 0;
        for (;;) {
          const nl = bytes.indexOf(0x0a, start);
          const end = nl < 0 ? bytes.length : nl;
          const content = end - start - (end > start && bytes[end - 1] === 0x0d ? 1 : 0);
          if (content > 64) {
            expected.push("fatal");
            break;
          }
          if (nl < 0) break;
          expected.push("ok");
          start = nl + 1;
        }
        assert.deepEqual(out.map((l) => (l.kind === "error" && l.fatal ? "fatal" : "ok")), expected);
        assert.equal(d.mustClose, expected.at(-1) === "fatal");
      }),
      { numRuns: 300, interruptAfterTimeLimit: 3000 },
    );
  });
});
