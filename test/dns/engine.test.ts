import { test, describe } from "node:test";
import assert from "node:assert/strict";
import dnsPacket, { type Answer, type DecodedPacket, type Packet, type RecordType } from "dns-packet";
import { Authority, Responder, hostLabel, randomSlice, DnsConfigError, type ZoneConfig } from "../../src/dns/index.js";
import type { Entity } from "../../src/overlay/index.js";

const ORIGIN = "example.com";

function member(id: string, ip: string, roles: string[], ports: Record<string, number> = {}, attrs: Entity["attrs"] = {}): Entity {
  return { id, ip, roles, version: "t", ports, attrs, startedAt: 1 };
}

const sip = (id: string, ip: string, extra: Record<string, number> = {}, attrs: Entity["attrs"] = {}) => member(id, ip, ["sip_proxy"], { sip_udp: 5060, sip_tcp: 5060, lookup: 9500, ...extra }, attrs);

function config(over: Partial<ZoneConfig> = {}): ZoneConfig {
  return { origin: ORIGIN, nameservers: [{ name: "ns1.example.com", ip: "192.0.2.53" }], eventServers: [{ host: "192.0.2.1", port: 8000 }, { host: "192.0.2.2", port: 8000 }], ...over };
}

/** A seeded PRNG (mulberry32), so slice tests are deterministic. */
function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function setup(members: Entity[], opts: { slice?: number; cfg?: Partial<ZoneConfig>; seed?: number } = {}) {
  const authority = new Authority([config(opts.cfg)], 1000);
  authority.apply(members, 2000);
  const responder = new Responder(authority, { slice: opts.slice ?? 3, random: seeded(opts.seed ?? 1) });
  return { authority, responder };
}

function ask(responder: Responder, name: string, type: RecordType | "ANY", over: Partial<Packet> & { transport?: "udp" | "tcp"; edns?: number } = {}): DecodedPacket & { rcode: string; opcode: string } {
  const additionals: Answer[] = over.edns !== undefined ? [{ type: "OPT", name: ".", udpPayloadSize: over.edns, extendedRcode: 0, ednsVersion: 0, flags: 0, flag_do: false, options: [] }] : [];
  const q = dnsPacket.encode({ type: "query", id: 4242, flags: dnsPacket.RECURSION_DESIRED, questions: [{ name, type: type as RecordType, class: "IN" }], additionals, ...over });
  const out = responder.respond(q, over.transport ?? "tcp");
  assert.equal(out.kind, "answer", out.kind === "malformed" ? out.reason : "");
  return dnsPacket.decode(out.bytes!) as DecodedPacket & { rcode: string; opcode: string };
}

const rcodeOf = (b: Buffer) => dnsPacket.decode(b) as DecodedPacket & { rcode: string };
const data = <T>(p: DecodedPacket, type: string): T[] => (p.answers ?? []).filter((a) => a.type === type).map((a) => (a as unknown as { data: T }).data);

describe("zone content from the membership", () => {
  const members = [
    sip("node1", "192.0.2.101", { sip_tls: 5061, sip_ws: 8080 }),
    sip("node2", "192.0.2.102"),
    sip("node3", "2001:db8::3"),
    member("relay1", "192.0.2.110", ["media_relay"], { sip_udp: 5060, lookup: 9500 }),
    sip("drained", "192.0.2.120", {}, { draining: true }),
    member("xcap1", "192.0.2.130", ["xcap_server"], { xcap: 443 }),
  ];
  const { responder } = setup(members, { slice: 10 });

  test("NAPTR at the apex names only the SIP transports some sip_proxy member offers (RFC 3263 4.1)", () => {
    const r = ask(responder, ORIGIN, "NAPTR");
    assert.equal(r.rcode, "NOERROR");
    assert.ok(r.flag_aa);
    const naptr = data<{ services: string; replacement: string; flags: string; order: number; preference: number }>(r, "NAPTR");
    assert.deepEqual(naptr.map((n) => n.services).sort(), ["SIP+D2T", "SIP+D2U", "SIP+D2W", "SIPS+D2T"]);
    const byService = Object.fromEntries(naptr.map((n) => [n.services, n]));
    assert.equal(byService["SIP+D2U"]!.replacement, "_sip._udp.example.com");
    assert.equal(byService["SIPS+D2T"]!.replacement, "_sips._tcp.example.com");
    assert.equal(byService["SIP+D2W"]!.replacement, "_sip._ws.example.com");
    assert.ok(naptr.every((n) => n.flags === "s" && n.order === 10));
    assert.ok(byService["SIP+D2U"]!.preference < byService["SIP+D2T"]!.preference);
  });

  test("SRV lists the live sip_proxy members with their advertised port, not other roles nor drained nodes", () => {
    const udp = data<{ target: string; port: number }>(ask(responder, "_sip._udp.example.com", "SRV"), "SRV");
    assert.deepEqual(udp.map((s) => s.target).sort(), ["node1.example.com", "node2.example.com", "node3.example.com"]);
    assert.ok(udp.every((s) => s.port === 5060));
    const tls = data<{ target: string; port: number }>(ask(responder, "_sips._tcp.example.com", "SRV"), "SRV");
    assert.deepEqual(tls, [{ priority: 10, weight: 10, port: 5061, target: "node1.example.com" }]);
  });

  test("members get A or AAAA by address family; the apex carries A/AAAA of the proxies on 5060", () => {
    assert.deepEqual(data(ask(responder, "node1.example.com", "A"), "A"), ["192.0.2.101"]);
    assert.deepEqual(data(ask(responder, "node3.example.com", "AAAA"), "AAAA"), ["2001:db8::3"]);
    assert.equal(ask(responder, "node3.example.com", "A").rcode, "NOERROR");
    assert.deepEqual(data<string>(ask(responder, ORIGIN, "A"), "A").sort(), ["192.0.2.101", "192.0.2.102"]);
    assert.equal(ask(responder, "drained.example.com", "A").rcode, "NXDOMAIN");
  });

  test("additional section: NAPTR brings the SRV records and their addresses, SRV brings the addresses", () => {
    const r = ask(responder, ORIGIN, "NAPTR");
    const add = r.additionals ?? [];
    assert.ok(add.some((a) => a.type === "SRV" && a.name === "_sip._udp.example.com"));
    assert.ok(add.some((a) => a.type === "A" && a.name === "node2.example.com"));
    assert.ok(add.some((a) => a.type === "AAAA" && a.name === "node3.example.com"));
    const s = ask(responder, "_sips._tcp.example.com", "SRV");
    assert.deepEqual((s.additionals ?? []).map((a) => [a.type, a.name]), [["A", "node1.example.com"]]);
  });

  test("event servers, XCAP and the lookup interface have SRV records too", () => {
    const es = data<{ target: string; port: number }>(ask(responder, "_eventserver._tcp.example.com", "SRV"), "SRV");
    assert.deepEqual(es.map((s) => [s.target, s.port]).sort(), [["eventserver1.example.com", 8000], ["eventserver2.example.com", 8000]]);
    assert.deepEqual(data(ask(responder, "eventserver2.example.com", "A"), "A"), ["192.0.2.2"]);
    const xcap = data<{ target: string; port: number }>(ask(responder, "_xcap._tcp.example.com", "SRV"), "SRV");
    assert.deepEqual(xcap.map((s) => [s.target, s.port]), [["xcap1.example.com", 443]]);
    const lookup = data<{ target: string }>(ask(responder, "_lookup._tcp.example.com", "SRV"), "SRV");
    assert.deepEqual(lookup.map((s) => s.target).sort(), ["node1.example.com", "node2.example.com", "node3.example.com", "relay1.example.com"]);
  });

  test("SOA and NS at the apex, with glue for an in-zone name server", () => {
    const soa = ask(responder, ORIGIN, "SOA");
    const d = data<{ mname: string; rname: string; serial: number; minimum: number }>(soa, "SOA")[0]!;
    assert.equal(d.mname, "ns1.example.com");
    assert.equal(d.rname, "hostmaster.example.com");
    assert.equal(d.minimum, 10);
    const ns = ask(responder, ORIGIN, "NS");
    assert.deepEqual(data(ns, "NS"), ["ns1.example.com"]);
    assert.deepEqual((ns.additionals ?? []).map((a) => [a.type, a.name]), [["A", "ns1.example.com"]]);
  });
});

describe("DNS behaviour", () => {
  const { responder } = setup([sip("node1", "192.0.2.101"), sip("node2", "192.0.2.102")]);

  test("a name that does not exist is NXDOMAIN with the SOA in authority, its TTL capped by MINIMUM (RFC 2308)", () => {
    const r = ask(responder, "nope.example.com", "A");
    assert.equal(r.rcode, "NXDOMAIN");
    assert.ok(r.flag_aa);
    assert.equal(r.answers?.length, 0);
    assert.equal(r.authorities?.[0]?.type, "SOA");
    assert.equal((r.authorities?.[0] as { ttl: number }).ttl, 10);
  });

  test("an existing name without the type asked, and an empty non-terminal, are NODATA (RFC 2308 2.2, RFC 8020)", () => {
    for (const [name, type] of [["node1.example.com", "MX"], ["_udp.example.com", "SRV"], ["_sips._tcp.example.com", "SRV"]] as const) {
      const r = ask(responder, name, type);
      assert.equal(r.rcode, "NOERROR", name);
      assert.equal(r.answers?.length, 0, name);
      assert.equal(r.authorities?.[0]?.type, "SOA", name);
    }
  });

  test("names are case-insensitive and the owner is spelled as asked (RFC 4343)", () => {
    const r = ask(responder, "NoDe1.ExAmple.COM", "A");
    assert.equal(r.questions?.[0]?.name, "NoDe1.ExAmple.COM");
    assert.deepEqual(r.answers?.map((a) => [a.name, (a as { data: string }).data]), [["NoDe1.ExAmple.COM", "192.0.2.101"]]);
  });

  test("zones it does not serve are REFUSED, without recursion available", () => {
    for (const name of ["example.org", "com", "", "notexample.com"]) {
      const r = ask(responder, name, "A");
      assert.equal(r.rcode, "REFUSED", name);
      assert.equal(r.flag_ra, false);
      assert.equal(r.flag_aa, false);
    }
  });

  test("other classes and zone transfers are REFUSED; other opcodes NOTIMP", () => {
    assert.equal(ask(responder, ORIGIN, "TXT", { questions: [{ name: "version.bind", type: "TXT", class: "CH" }] }).rcode, "REFUSED");
    assert.equal(ask(responder, ORIGIN, "AXFR").rcode, "REFUSED");
    const notify = dnsPacket.encode({ type: "query", id: 7, flags: 4 << 11, questions: [{ name: ORIGIN, type: "SOA" }] });
    const out = responder.respond(notify, "udp");
    assert.equal(out.kind, "answer");
    const r = dnsPacket.decode(out.bytes!) as DecodedPacket & { rcode: string; opcode: string };
    assert.equal(r.rcode, "NOTIMP");
    assert.equal(r.opcode, "NOTIFY");
  });

  test("RD and the id are copied; QR is set", () => {
    const r = ask(responder, ORIGIN, "SOA");
    assert.equal(r.id, 4242);
    assert.ok(r.flag_qr);
    assert.ok(r.flag_rd);
  });

  test("EDNS0: an OPT record is answered with ours; an unknown version gets BADVERS (RFC 6891)", () => {
    const r = ask(responder, ORIGIN, "SOA", { edns: 4096 });
    const opt = r.additionals?.find((a) => a.type === "OPT") as { udpPayloadSize: number; ednsVersion: number } | undefined;
    assert.equal(opt?.udpPayloadSize, 1232);
    assert.equal(ask(responder, ORIGIN, "SOA").additionals?.length, 0);
    const v1 = dnsPacket.encode({ type: "query", id: 9, questions: [{ name: ORIGIN, type: "SOA" }], additionals: [{ type: "OPT", name: ".", udpPayloadSize: 4096, extendedRcode: 0, ednsVersion: 1, flags: 0, flag_do: false, options: [] }] });
    const out = responder.respond(v1, "udp");
    const b = dnsPacket.decode(out.bytes!);
    const bopt = b.additionals?.find((a) => a.type === "OPT") as { extendedRcode: number } | undefined;
    assert.equal(bopt?.extendedRcode, 1);
    assert.equal((b.flags ?? 0) & 0xf, 0);
  });

  test("ANY gets the minimal RFC 8482 answer: one HINFO, not every RRset at the name", () => {
    const r = ask(responder, ORIGIN, "ANY");
    assert.deepEqual(r.answers?.map((a) => a.type), ["HINFO"]);
  });
});

describe("truncation", () => {
  const many = Array.from({ length: 60 }, (_, i) => sip(`node${i}`, `192.0.2.${i + 1}`));
  const { responder } = setup(many, { slice: 60 });

  test("over UDP without EDNS an answer above 512 bytes comes back empty with TC; over TCP in full", () => {
    const q = dnsPacket.encode({ type: "query", id: 1, questions: [{ name: "_sip._udp.example.com", type: "SRV" }] });
    const udp = responder.respond(q, "udp");
    assert.equal(udp.kind === "answer" && udp.truncated, true);
    assert.ok(udp.bytes!.length <= 512);
    const u = dnsPacket.decode(udp.bytes!);
    assert.ok(u.flag_tc);
    assert.equal(u.answers?.length, 0);
    const tcp = dnsPacket.decode(responder.respond(q, "tcp").bytes!);
    assert.equal(tcp.flag_tc, false);
    assert.equal(tcp.answers?.length, 60);
    assert.equal(tcp.additionals?.length, 60);
  });

  test("additional records are dropped without TC when the answer alone fits (RFC 2181 9)", () => {
    const { responder: small } = setup(many, { slice: 8 });
    const q = dnsPacket.encode({ type: "query", id: 1, questions: [{ name: "_sip._udp.example.com", type: "SRV" }] });
    const full = dnsPacket.decode(small.respond(q, "tcp").bytes!);
    assert.equal(full.additionals?.length, 8);
    const out = small.respond(q, "udp");
    const u = dnsPacket.decode(out.bytes!);
    assert.equal(u.flag_tc, false);
    assert.equal(u.answers?.length, 8);
    assert.equal(u.additionals?.length, 0);
  });

  test("EDNS0 raises the UDP limit to the smaller of both payload sizes (RFC 6891 6.2.5)", () => {
    const { responder: mid } = setup(many, { slice: 15 });
    assert.equal(ask(mid, "_sip._udp.example.com", "SRV", { transport: "udp" }).flag_tc, true);
    const r = ask(mid, "_sip._udp.example.com", "SRV", { edns: 4096, transport: "udp" });
    assert.equal(r.flag_tc, false);
    assert.equal(r.answers?.length, 15);
    assert.equal(ask(mid, "_sip._udp.example.com", "SRV", { edns: 600, transport: "udp" }).flag_tc, true);
    // Over TCP the whole slice comes with its addresses.
    assert.equal(ask(responder, "_sip._udp.example.com", "SRV", { edns: 4096, transport: "udp" }).flag_tc, true);
  });
});

describe("load sharing", () => {
  test("a load-shared RRset is answered with a random slice of at most K records", () => {
    const members = Array.from({ length: 10 }, (_, i) => sip(`node${i}`, `192.0.2.${i + 1}`));
    const { responder } = setup(members, { slice: 3, seed: 7 });
    const seen = new Set<string>();
    for (let i = 0; i < 50; i++) {
      const r = ask(responder, "_sip._udp.example.com", "SRV");
      assert.equal(r.answers?.length, 3);
      const targets = data<{ target: string }>(r, "SRV").map((s) => s.target);
      assert.equal(new Set(targets).size, 3);
      targets.forEach((t) => seen.add(t));
    }
    assert.equal(seen.size, 10);
  });

  test("over many queries every member is handed out as often, first place included (chi-square, 9 d.o.f.)", () => {
    const members = Array.from({ length: 10 }, (_, i) => sip(`node${i}`, `192.0.2.${i + 1}`));
    const { responder } = setup(members, { slice: 3, seed: 11 });
    const first = new Map<string, number>();
    const N = 5000;
    for (let i = 0; i < N; i++) {
      const t = data<{ target: string }>(ask(responder, "_sip._udp.example.com", "SRV"), "SRV")[0]!.target;
      first.set(t, (first.get(t) ?? 0) + 1);
    }
    const expected = N / 10;
    const chi2 = [...first.values()].reduce((s, o) => s + (o - expected) ** 2 / expected, 0);
    assert.equal(first.size, 10);
    // p = 0.001 critical value for 9 degrees of freedom is 27.9.
    assert.ok(chi2 < 27.9, `chi2 ${chi2.toFixed(1)}`);
  });

  test("randomSlice picks distinct items, never more than asked", () => {
    const r = seeded(3);
    assert.deepEqual(randomSlice([], 3, r), []);
    assert.equal(randomSlice([1, 2], 3, r).length, 2);
    const s = randomSlice([1, 2, 3, 4, 5], 3, r);
    assert.equal(new Set(s).size, 3);
  });
});

describe("serial and identical instances", () => {
  test("the SOA serial bumps when the published records change, not on a repeated snapshot", () => {
    const a = new Authority([config()], 1000);
    assert.equal(a.serial, 1000);
    assert.equal(a.apply([sip("node1", "192.0.2.1")], 500), true);
    assert.equal(a.serial, 1001);
    assert.equal(a.apply([sip("node1", "192.0.2.1")], 5000), false);
    assert.equal(a.serial, 1001);
    assert.equal(a.apply([sip("node1", "192.0.2.1"), sip("node2", "192.0.2.2")], 5000), true);
    assert.equal(a.serial, 5000);
    assert.equal(a.apply([sip("node1", "192.0.2.1"), sip("node2", "192.0.2.2", {}, { draining: true })], 5000), true);
    assert.equal(a.serial, 5001);
    assert.equal(a.zones()[0]!.soa.data.serial, 5001);
  });

  test("two instances fed the same snapshots publish the same records and serial", () => {
    const snaps = [[sip("b", "192.0.2.2"), sip("a", "192.0.2.1")], [sip("a", "192.0.2.1")], [sip("a", "192.0.2.1"), sip("c", "2001:db8::c")]];
    const x = new Authority([config()], 100);
    const y = new Authority([config()], 100);
    snaps.forEach((s, i) => {
      x.apply(s, 200 + i);
      y.apply([...s].reverse(), 200 + i);
    });
    const dump = (a: Authority) => [...a.zones()[0]!.nodes].map(([n, node]) => [n, [...node.sets].map(([t, set]) => [t, set.records.map((r) => JSON.stringify(r)).sort()])]).sort();
    assert.deepEqual(dump(x), dump(y));
    assert.equal(x.serial, y.serial);
  });

  test("host names are DNS labels, unique, and never shadow a name server", () => {
    assert.equal(hostLabel("Node_7.east"), "node-7-east");
    assert.equal(hostLabel("--"), "member");
    assert.equal(hostLabel("x".repeat(80)).length, 63);
    const { responder } = setup([sip("ns1", "192.0.2.9"), sip("NS1", "192.0.2.10")]);
    assert.deepEqual(data(ask(responder, "ns1.example.com", "A"), "A"), ["192.0.2.53"]);
    const targets = data<{ target: string }>(ask(responder, "_sip._udp.example.com", "SRV"), "SRV").map((s) => s.target).sort();
    assert.deepEqual(targets, ["ns1-2.example.com", "ns1-3.example.com"]);
  });

  test("several zones are served; the most specific origin answers", () => {
    const a = new Authority([config(), config({ origin: "sip.example.com", nameservers: [{ name: "ns1.example.com" }] })], 1);
    a.apply([sip("n1", "192.0.2.1")], 2);
    const r = new Responder(a, { slice: 3 });
    assert.deepEqual(data(ask(r, "n1.sip.example.com", "A"), "A"), ["192.0.2.1"]);
    assert.equal(ask(r, "sip.example.com", "SOA").answers?.[0]?.name, "sip.example.com");
  });

  test("bad zone settings are refused with a DnsConfigError", () => {
    assert.throws(() => new Authority([config({ origin: "bad name" })], 1), DnsConfigError);
    assert.throws(() => new Authority([config({ nameservers: [] })], 1), DnsConfigError);
    assert.throws(() => new Authority([config({ nameservers: [{ name: "ns1.example.com", ip: "nope" }] })], 1), DnsConfigError);
  });
});

describe("malformed input", () => {
  const { responder } = setup([sip("node1", "192.0.2.101")]);

  test("fewer bytes than a header, or a response, are dropped", () => {
    assert.deepEqual(responder.respond(Buffer.alloc(5), "udp"), { kind: "malformed", bytes: undefined, reason: "shorter than a DNS header" });
    const resp = dnsPacket.encode({ type: "response", id: 3, questions: [{ name: ORIGIN, type: "A" }] });
    assert.equal(responder.respond(resp, "udp").bytes, undefined);
  });

  test("an undecodable query with a readable header gets FORMERR with its id", () => {
    const bad = Buffer.from([0x12, 0x34, 0x01, 0x00, 0x00, 0x01, 0, 0, 0, 0, 0, 0, 0x3f, 0x61, 0x62, 0, 0, 1, 0, 1]);
    const out = responder.respond(bad, "udp");
    assert.equal(out.kind, "malformed");
    const r = dnsPacket.decode(out.bytes!) as DecodedPacket & { rcode: string };
    assert.equal(r.id, 0x1234);
    assert.equal(r.rcode, "FORMERR");
    assert.ok(r.flag_rd);
  });

  test("two questions, or two OPT records, are FORMERR", () => {
    const two = dnsPacket.encode({ type: "query", id: 5, questions: [{ name: ORIGIN, type: "A" }, { name: ORIGIN, type: "AAAA" }] });
    assert.equal(rcodeOf(responder.respond(two, "udp").bytes!).rcode, "FORMERR");
    const opt: Answer = { type: "OPT", name: ".", udpPayloadSize: 1232, extendedRcode: 0, ednsVersion: 0, flags: 0, flag_do: false, options: [] };
    const twoOpt = dnsPacket.encode({ type: "query", id: 5, questions: [{ name: ORIGIN, type: "A" }], additionals: [opt, opt] });
    assert.equal(rcodeOf(responder.respond(twoOpt, "udp").bytes!).rcode, "FORMERR");
  });

  test("a query with no question is FORMERR", () => {
    const none = dnsPacket.encode({ type: "query", id: 5, questions: [] });
    const out = responder.respond(Buffer.concat([none, Buffer.alloc(5)]), "udp");
    assert.equal(rcodeOf(out.bytes!).rcode, "FORMERR");
  });
});

describe("before the first membership (issue 15 item 6)", () => {
  test("what the members would fill is SERVFAIL, not an authoritative empty answer; the configured records are served", () => {
    const authority = new Authority([config()], 1000);
    const responder = new Responder(authority, { slice: 3, random: seeded(7) });
    assert.equal(ask(responder, ORIGIN, "NAPTR").rcode, "SERVFAIL");
    assert.equal(ask(responder, "_sip._udp.example.com", "SRV").rcode, "SERVFAIL");
    assert.equal(ask(responder, "node1.example.com", "A").rcode, "SERVFAIL");
    const ns = ask(responder, ORIGIN, "NS");
    assert.equal(ns.rcode, "NOERROR");
    assert.ok(ns.flag_aa);
    assert.equal(data<{ target: string }>(ask(responder, "_eventserver._tcp.example.com", "SRV"), "SRV").length, 2);
    // Once a membership is applied, even an empty one, empty answers are authoritative again.
    authority.apply([], 2000);
    const r = ask(responder, "_sip._udp.example.com", "SRV");
    assert.ok(r.rcode === "NOERROR" || r.rcode === "NXDOMAIN", r.rcode);
    assert.ok(r.flag_aa);
  });
});
