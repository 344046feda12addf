import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import net from "node:net";
import fc from "fast-check";
import { silentLogger } from "../../src/base/index.js";
import { answer, LookupClient, LookupLineDecoder, LookupServer, parseRequest, queryLookup, RoleMap, type Entity } from "../../src/overlay/index.js";

const entity = (id: string, ip: string, roles: string[]): Entity => ({ id, ip, roles, version: "1", ports: {}, attrs: {}, startedAt: 1 });
const map = RoleMap.fromMembers([entity("a", "10.0.0.1", ["sip_proxy"]), entity("b", "10.0.0.2", ["sip_proxy", "media_relay"])]);

describe("lookup protocol codec", () => {
  it("parses the two requests", () => {
    assert.deepEqual(parseRequest("lookup sip_proxy for sip:Alice@Example.com"), { ok: true, request: { kind: "lookup", role: "sip_proxy", key: "Alice@example.com" } });
    assert.deepEqual(parseRequest("is_online 10.0.0.2 as media_relay"), { ok: true, request: { kind: "is_online", ip: "10.0.0.2", role: "media_relay" } });
  });

  it("answers with an IP, None, Yes, No or an error line", () => {
    const d = new LookupLineDecoder();
    const lines = d.push(Buffer.from("lookup sip_proxy for alice@example.com\r\nlookup xcap_server for alice@example.com\nis_online 10.0.0.2 as media_relay\nis_online 10.0.0.1 as media_relay\nfrobnicate\n\n"));
    const answers = lines.map((l) => answer(l, map));
    assert.equal(answers[0], map.lookup("sip_proxy", "alice@example.com")?.ip);
    assert.deepEqual(answers.slice(1), ["None", "Yes", "No", 'error: unknown command "frobnicate" (expected lookup or is_online)']);
    assert.equal(answer(lines[0]!, undefined), "error: no membership yet");
  });

  it("explains malformed requests", () => {
    const cases: Array<[string, RegExp]> = [
      ["lookup sip_proxy alice@example.com", /expected "lookup <role> for <user@domain>"/],
      ["lookup SIP for a@b", /invalid role/],
      ["lookup sip_proxy for alice", /invalid key/],
      ["is_online 10.0.0.1", /expected "is_online <ip> as <role>"/],
      ["is_online not-an-ip as sip_proxy", /invalid address/],
    ];
    for (const [line, re] of cases) {
      const r = parseRequest(line);
      assert.equal(r.ok, false, line);
      assert.match(r.ok ? "" : r.reason, re, line);
    }
  });

  it("closes on an over-long line, even without a newline", () => {
    const d = new LookupLineDecoder(32);
    const out = d.push(Buffer.alloc(40, 0x61));
    assert.equal(out.length, 1);
    assert.match(out[0]!.ok ? "" : out[0]!.reason, /line too long/);
    assert.equal(d.closed, true);
  });

  it("answers every complete line and never throws on arbitrary bytes (fuzz)", () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 80 }), { maxLength: 10 }), (chunks) => {
        const d = new LookupLineDecoder(64);
        let answered = 0;
        for (const c of chunks) for (const l of d.push(Buffer.from(c))) answered += answer(l, map).length > 0 ? 1 : 0;
        const all = Buffer.concat(chunks.map((c) => Buffer.from(c)));
        const text = all.toString("utf8");
        const complete = text.split("\n").slice(0, -1).filter((l) => l.replace(/\r$/, "").trim().length > 0).length;
        if (!d.closed) assert.equal(answered, complete);
      }),
      { numRuns: 1000, interruptAfterTimeLimit: 3000 },
    );
  });
});

describe("lookup server on loopback", () => {
  let server: LookupServer;
  let port: number;
  let current: RoleMap | undefined = map;

  before(async () => {
    server = new LookupServer({ host: "127.0.0.1", port: 0, logger: silentLogger, resolve: () => current, maxLine: 128 });
    port = (await server.start()).port;
  });
  after(() => server.stop());

  it("answers pipelined requests in order", async () => {
    const ks = Array.from({ length: 500 }, (_, i) => `u${i}@example.com`);
    const answers = await queryLookup("127.0.0.1", port, ks.map((k) => `lookup sip_proxy for ${k}`));
    assert.deepEqual(answers, ks.map((k) => map.lookup("sip_proxy", k)?.ip));
  });

  it("answers garbage with error lines, closes after an over-long line, and keeps serving", async () => {
    const raw = await new Promise<string>((resolve) => {
      const s = net.connect(port, "127.0.0.1", () => {
        s.write(Buffer.from([0, 1, 2, 0xff, 0xfe, 10]));
        s.write("lookup\n");
        s.write(`${"x".repeat(500)}\n`);
        s.write("lookup sip_proxy for never@answered.com\n");
      });
      let text = "";
      s.setEncoding("utf8").on("data", (d: string) => (text += d));
      s.on("close", () => resolve(text));
    });
    const lines = raw.split("\r\n").filter(Boolean);
    assert.equal(lines.length, 3);
    assert.match(lines[0]!, /^error: unknown command/);
    assert.match(lines[1]!, /^error: expected "lookup/);
    assert.match(lines[2]!, /^error: line too long/);
    const client = new LookupClient("127.0.0.1", port);
    assert.equal(await client.isOnline("10.0.0.2", "sip_proxy"), "Yes");
    client.close();
  });

  it("says so while no membership is known", async () => {
    current = undefined;
    try {
      assert.deepEqual(await queryLookup("127.0.0.1", port, ["lookup sip_proxy for a@b.c"]), ["error: no membership yet"]);
    } finally {
      current = map;
    }
  });
});
