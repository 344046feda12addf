import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import dgram from "node:dgram";
import net from "node:net";
import dnsPacket, { type DecodedPacket, type RecordType } from "dns-packet";
import fc from "fast-check";
import { silentLogger } from "../../src/base/index.js";
import { Authority, DnsListenError, DnsServer, Responder, type ListenAddress } from "../../src/dns/index.js";
import type { Entity } from "../../src/overlay/index.js";
import { waitFor } from "../support/wait-for.js";
import { testIp } from "../support/slot.js";

const HOST = testIp(20, 201);

function sip(id: string, ip: string): Entity {
  return { id, ip, roles: ["sip_proxy"], version: "t", ports: { sip_udp: 5060, sip_tcp: 5060 }, attrs: {}, startedAt: 1 };
}

function authority(n = 5): Authority {
  const a = new Authority([{ origin: "example.com", nameservers: [{ name: "ns1.example.com", ip: HOST }] }], 1);
  a.apply(Array.from({ length: n }, (_, i) => sip(`node${i}`, `192.0.2.${i + 1}`)), 2);
  return a;
}

function query(name: string, type: RecordType, id = 77): Buffer {
  return dnsPacket.encode({ type: "query", id, questions: [{ name, type }] });
}

function udpAsk(addr: ListenAddress, msg: Buffer, timeoutMs = 2000): Promise<Buffer | undefined> {
  const family = net.isIP(addr.host) === 6 ? "udp6" : "udp4";
  const sock = dgram.createSocket(family);
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      sock.close();
      resolve(undefined);
    }, timeoutMs);
    sock.once("message", (m) => {
      clearTimeout(timer);
      sock.close();
      resolve(m);
    });
    sock.send(msg, addr.port, addr.host);
  });
}

/** Send raw bytes on one TCP connection; collect framed answers until `count` arrive or the peer closes. */
function tcpExchange(addr: ListenAddress, bytes: Buffer, count: number, timeoutMs = 3000): Promise<{ answers: Buffer[]; closed: boolean }> {
  return new Promise((resolve) => {
    const answers: Buffer[] = [];
    let buf = Buffer.alloc(0);
    let closed = false;
    const s = net.connect(addr.port, addr.host, () => s.write(bytes));
    const done = () => {
      clearTimeout(timer);
      s.destroy();
      resolve({ answers, closed });
    };
    const timer = setTimeout(done, timeoutMs);
    s.on("data", (c: Buffer) => {
      buf = Buffer.concat([buf, c]);
      while (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
        answers.push(buf.subarray(2, 2 + buf.readUInt16BE(0)));
        buf = buf.subarray(2 + buf.readUInt16BE(0));
      }
      if (answers.length >= count) done();
    });
    s.on("error", () => undefined);
    s.on("close", () => {
      closed = true;
      done();
    });
  });
}

const frame = (m: Buffer) => Buffer.concat([Buffer.from([m.length >> 8, m.length & 0xff]), m]);

describe("DNS server over real sockets", () => {
  let server: DnsServer;
  let v4: ListenAddress;
  let v6: ListenAddress | undefined;
  let six: DnsServer | undefined;

  before(async () => {
    server = new DnsServer({ responder: new Responder(authority(), { slice: 3 }), logger: silentLogger, listen: [{ host: HOST, port: 0 }], tcpIdleMs: 500 });
    v4 = (await server.start())[0]!;
    six = new DnsServer({ responder: new Responder(authority(), { slice: 3 }), logger: silentLogger, listen: [{ host: "::1", port: 0 }] });
    try {
      v6 = (await six.start())[0];
    } catch {
      v6 = undefined;
    }
  });

  after(async () => {
    await server.stop();
    await six?.stop();
  });

  test("UDP and TCP share the port and answer the same question", async () => {
    const u = dnsPacket.decode((await udpAsk(v4!, query("_sip._udp.example.com", "SRV")))!);
    assert.equal(u.answers?.length, 3);
    const { answers } = await tcpExchange(v4!, frame(query("_sip._udp.example.com", "SRV")), 1);
    assert.equal(dnsPacket.decode(answers[0]!).answers?.length, 3);
  });

  test("IPv6: UDP and TCP on ::1", async (t) => {
    if (!v6) return t.skip("no IPv6 loopback");
    const u = dnsPacket.decode((await udpAsk(v6, query("node1.example.com", "A")))!);
    assert.deepEqual(u.answers?.map((a) => (a as { data: string }).data), ["192.0.2.2"]);
    const { answers } = await tcpExchange(v6, frame(query("node1.example.com", "A")), 1);
    assert.equal(answers.length, 1);
  });

  test("TCP: several queries in one write, split across writes, answered in order (RFC 7766 6.2.1)", async () => {
    const qs = [query("node1.example.com", "A", 1), query("node2.example.com", "A", 2), query("nope.example.com", "A", 3)];
    const all = Buffer.concat(qs.map(frame));
    const { answers } = await tcpExchange(v4!, all, 3);
    assert.deepEqual(answers.map((a) => dnsPacket.decode(a).id), [1, 2, 3]);
    assert.equal((dnsPacket.decode(answers[2]!) as DecodedPacket & { rcode: string }).rcode, "NXDOMAIN");
    // One byte at a time.
    const s = net.connect(v4!.port, v4!.host);
    const got: Buffer[] = [];
    s.on("data", (c: Buffer) => got.push(c));
    const bytes = frame(qs[0]!);
    for (const b of bytes) await new Promise<void>((r) => s.write(Buffer.from([b]), () => r()));
    const whole = () => {
      const buf = Buffer.concat(got);
      return buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0) ? buf.subarray(2, 2 + buf.readUInt16BE(0)) : undefined;
    };
    const answer = await waitFor(whole, { timeoutMs: 5000, message: "the whole answer to a byte-by-byte query" });
    s.destroy();
    // The same answer as to the same query sent in one write.
    const bytewise = dnsPacket.decode(answer);
    const inOne = dnsPacket.decode(answers[0]!);
    assert.equal(bytewise.id, 1);
    assert.deepEqual(bytewise.questions, inOne.questions);
    assert.deepEqual(bytewise.answers?.map((a) => [a.name, a.type, (a as { data: unknown }).data]), inOne.answers?.map((a) => [a.name, a.type, (a as { data: unknown }).data]));
    assert.equal(bytewise.answers?.length, 1);
  });

  test("TCP: an idle connection is closed; a zero-length frame closes it", async () => {
    const idle = await tcpExchange(v4!, Buffer.alloc(0), 1, 3000);
    assert.equal(idle.closed, true);
    const zero = await tcpExchange(v4!, Buffer.from([0, 0]), 1, 3000);
    assert.equal(zero.closed, true);
    assert.equal(zero.answers.length, 0);
  });

  test("real dig: an answer too large for UDP comes back with TC and dig gets it in full over TCP", async () => {
    const big = new DnsServer({ responder: new Responder(authority(40), { slice: 40 }), logger: silentLogger, listen: [{ host: testIp(20, 202), port: 0 }] });
    const [addr] = await big.start();
    try {
      const out = await new Promise<string>((resolve, reject) =>
        execFile("dig", [`@${addr!.host}`, "-p", String(addr!.port), "+noedns", "+norecurse", "_sip._udp.example.com", "SRV"], { timeout: 10_000 }, (err, stdout) => (err ? reject(err) : resolve(stdout))),
      );
      assert.match(out, /Truncated, retrying in TCP mode/);
      assert.match(out, /ANSWER: 40,/);
      assert.equal(big.stats.truncated, 1);
      assert.equal(big.stats.tcpQueries, 1);
    } finally {
      await big.stop();
    }
  });

  test("a port in use is a DnsListenError", async () => {
    const other = new DnsServer({ responder: new Responder(authority()), logger: silentLogger, listen: [{ host: HOST, port: v4!.port }] });
    await assert.rejects(other.start(), DnsListenError);
    const bad = new DnsServer({ responder: new Responder(authority()), logger: silentLogger, listen: [{ host: "localhost", port: 0 }] });
    await assert.rejects(bad.start(), DnsListenError);
  });

  test("fuzz: random and mutated packets over UDP and TCP never take it down (time-limited)", async () => {
    const valid = [query("example.com", "NAPTR"), query("_sip._udp.example.com", "SRV"), dnsPacket.encode({ type: "query", id: 1, questions: [{ name: "example.com", type: "A" }], additionals: [{ type: "OPT", name: ".", udpPayloadSize: 4096, extendedRcode: 0, ednsVersion: 0, flags: 0, flag_do: false, options: [] }] })];
    const mutated = fc
      .tuple(fc.constantFrom(...valid), fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 8 }), fc.nat({ max: 40 }))
      .map(([base, edits, cut]) => {
        const b = Buffer.from(base);
        for (const [at, v] of edits) b[at % b.length] = v;
        return b.subarray(0, Math.max(0, b.length - cut));
      });
    const packet = fc.oneof(fc.uint8Array({ maxLength: 600 }).map((u) => Buffer.from(u)), mutated);
    const before = server.stats.malformed;
    await fc.assert(
      fc.asyncProperty(fc.array(packet, { minLength: 1, maxLength: 8 }), async (packets) => {
        const sock = dgram.createSocket("udp4");
        for (const p of packets) await new Promise<void>((r) => sock.send(p, v4!.port, v4!.host, () => r()));
        sock.close();
        // TCP: the same packets framed, on one connection; the server answers or closes, never hangs the others.
        await tcpExchange(v4!, Buffer.concat(packets.filter((p) => p.length > 0).map(frame)), packets.length, 300);
      }),
      { interruptAfterTimeLimit: 4000, numRuns: 10_000 },
    );
    assert.ok(server.stats.malformed > before);
    const u = await udpAsk(v4!, query("node0.example.com", "A"));
    assert.ok(u, "still answering after the fuzz run");
  });
});

describe("responder fuzz (pure)", () => {
  test("any bytes: no throw; an answer, when given, is a response with the query's id", () => {
    const responder = new Responder(authority(30), { slice: 30 });
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 0, maxLength: 700 }), fc.constantFrom<"udp" | "tcp">("udp", "tcp"), (bytes, transport) => {
        const out = responder.respond(bytes, transport);
        if (!out.bytes) return;
        assert.ok(out.bytes.length >= 12);
        assert.equal(out.bytes.readUInt16BE(0), Buffer.from(bytes).readUInt16BE(0));
        assert.ok(out.bytes[2]! & 0x80, "QR set");
        if (transport === "udp") assert.ok(out.bytes.length <= 1232);
      }),
      { interruptAfterTimeLimit: 3000, numRuns: 200_000 },
    );
  });

  test("well-formed questions of any name and type: always an answer, UDP within its limit", () => {
    const responder = new Responder(authority(40), { slice: 40 });
    const label = fc.stringMatching(/^[A-Za-z0-9_-]{1,20}$/);
    const name = fc.oneof(fc.array(label, { maxLength: 4 }).map((ls) => [...ls, "example", "com"].join(".")), fc.array(label, { minLength: 1, maxLength: 4 }).map((ls) => ls.join(".")));
    const types = ["A", "AAAA", "NAPTR", "SRV", "SOA", "NS", "TXT", "MX", "ANY", "AXFR", "CNAME"] as const;
    fc.assert(
      fc.property(name, fc.constantFrom(...types), fc.option(fc.integer({ min: 1, max: 65535 })), (n, t, edns) => {
        const additionals = edns === null ? [] : [{ type: "OPT" as const, name: ".", udpPayloadSize: edns, extendedRcode: 0, ednsVersion: 0, flags: 0, flag_do: false, options: [] }];
        const q = dnsPacket.encode({ type: "query", id: 9, questions: [{ name: n, type: t as RecordType }], additionals });
        const out = responder.respond(q, "udp");
        assert.equal(out.kind, "answer");
        const limit = edns === null ? 512 : Math.max(512, Math.min(edns, 1232));
        assert.ok(out.bytes!.length <= limit, `${out.bytes!.length} > ${limit}`);
        dnsPacket.decode(out.bytes!);
      }),
      { interruptAfterTimeLimit: 3000, numRuns: 50_000 },
    );
  });
});
