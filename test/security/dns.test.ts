/**
 * Issue 10, item 16: `thor dns` is no reflection amplifier. ANY gets the
 * minimal answer of RFC 8482 (one HINFO "RFC8482"), and response rate
 * limiting is on by default.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import dgram from "node:dgram";
import dnsPacket, { type DecodedPacket, type RecordType } from "dns-packet";
import { Authority, Responder } from "../../src/dns/index.js";
import type { Entity } from "../../src/overlay/index.js";
import { Lab } from "../support/lab.js";
import { stopAllProcesses } from "../support/processes.js";
import { waitFor } from "../support/wait-for.js";
import { testIp, testNet } from "../support/slot.js";

const sip = (id: string, ip: string): Entity => ({ id, ip, roles: ["sip_proxy"], version: "t", ports: { sip_udp: 5060, sip_tcp: 5060, sip_tls: 5061, sip_ws: 8080, lookup: 9500 }, attrs: {}, startedAt: 1 });

describe("DNS: ANY is answered minimally (RFC 8482)", () => {
  const authority = new Authority([{ origin: "example.com", nameservers: [{ name: "ns1.example.com", ip: "192.0.2.53" }], eventServers: [{ host: "192.0.2.1", port: 8000 }] }], 1000);
  authority.apply(Array.from({ length: 10 }, (_, i) => sip(`node${i}`, `192.0.2.${10 + i}`)), 2000);
  const responder = new Responder(authority, { slice: 3 });

  test("ANY at the apex gets one HINFO RFC8482 record, no other RRset and no additional records", () => {
    const query = dnsPacket.encode({ type: "query", id: 7, questions: [{ name: "example.com", type: "ANY" as RecordType, class: "IN" }] });
    const out = responder.respond(query, "udp");
    assert.equal(out.kind, "answer");
    const r = dnsPacket.decode(out.bytes!) as DecodedPacket & { rcode: string };
    assert.equal(r.rcode, "NOERROR");
    assert.deepEqual(r.answers?.map((a) => a.type), ["HINFO"]);
    const hinfo = r.answers![0] as { data: { cpu: string; os: string } };
    assert.equal(hinfo.data.cpu, "RFC8482");
    assert.equal(r.additionals?.length ?? 0, 0);
    // The amplification factor of ANY is now that of any small answer (it was about 11×).
    assert.ok(out.bytes!.length < 2 * query.length, `answer ${out.bytes!.length} bytes for a query of ${query.length}`);
  });

  test("ANY for a name that does not exist is still NXDOMAIN", () => {
    const out = responder.respond(dnsPacket.encode({ type: "query", id: 8, questions: [{ name: "nope.example.com", type: "ANY" as RecordType, class: "IN" }] }), "udp");
    assert.equal((dnsPacket.decode(out.bytes!) as DecodedPacket & { rcode: string }).rcode, "NXDOMAIN");
  });
});

describe("DNS: response rate limiting is on by default", { timeout: 60_000 }, () => {
  let lab: Lab;
  before(async () => {
    lab = await Lab.create({ subnet: testNet(120), nodes: [], dns: 1, dnsPort: 5312 });
  });
  after(async () => {
    await lab.stop();
    await stopAllProcesses();
  });

  test("a burst of 400 UDP queries from one /24 is not answered in full without any rate-limit setting", async () => {
    const p = lab.start("dns1");
    await p.waitForLog((l) => l.msg === "dns listening (udp, tcp)", 15_000, "listening");
    const socket = dgram.createSocket("udp4");
    await new Promise<void>((r) => socket.bind(0, testIp(120, 200), () => r()));
    let answers = 0;
    let truncated = 0;
    socket.on("message", (m) => {
      answers++;
      if (((dnsPacket.decode(m).flags ?? 0) & dnsPacket.TRUNCATED_RESPONSE) !== 0) truncated++;
    });
    try {
      const q = dnsPacket.encode({ type: "query", id: 1, questions: [{ name: "example.com", type: "SOA", class: "IN" }] });
      for (let i = 0; i < 400; i++) socket.send(q, 5312, testIp(120, 53));
      // The full answers (at most the burst) and the TC "slips" arrive; the rest is dropped.
      await waitFor(() => truncated > 0, { timeoutMs: 5000, message: "TC answers (slip)" });
      const full = answers - truncated;
      assert.ok(full <= 150, `${full} full answers to 400 queries`);
      assert.ok(answers < 400, `${answers} answers to 400 queries`);
    } finally {
      socket.close();
    }
  });
});
