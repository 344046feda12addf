import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import dgram from "node:dgram";
import https from "node:https";
import http from "node:http";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { AddressInfo } from "node:net";
import { WebSocketServer, type WebSocket } from "ws";
import { silentLogger } from "../../src/base/index.js";
import { initCa, issueCertificate } from "../../src/pki/index.js";
import { computeHa1, digestResponse, MemoryCredentialStore, SipServer } from "../../src/sip/index.js";
import { createResponse, parseMessage, parseUri, serializeMessage, type SipRequest, type SipUri } from "../../src/sip/message/index.js";
import { orderSrv, resolveTargets, systemResolver, type SipResolver } from "../../src/sip/proxy/index.js";
import { rr, startDnsServer, type DnsServer } from "../support/dns-server.js";
import { waitFor } from "../support/wait-for.js";
import { testIp, testNet } from "../support/slot.js";

/**
 * RFC 3263 resolution of foreign targets against a DNS server answering
 * from a fixture (dns-packet, testIp(40, 53)), and the proxy forwarding to
 * what it finds, including outgoing WebSocket (RFC 7118) connections.
 */
const sip = (text: string): SipUri => {
  const r = parseUri(text);
  assert.ok(r.ok && r.uri.kind === "sip", text);
  return r.uri as SipUri;
};

describe("RFC 3263 target resolution", () => {
  let dns: DnsServer;
  let resolver: SipResolver;
  const firstDraw = () => 0;

  before(async () => {
    dns = await startDnsServer(testIp(40, 53), {
      // NAPTR: TCP preferred over UDP by preference, a TLS record, one we do not know, one with a non-terminal flag.
      "NAPTR naptr.test": [
        rr.naptr("naptr.test", 50, 20, "SIP+D2U", "_sip._udp.naptr.test"),
        rr.naptr("naptr.test", 50, 10, "SIP+D2T", "_sip._tcp.naptr.test"),
        rr.naptr("naptr.test", 40, 10, "SIPS+D2T", "_sips._tcp.naptr.test"),
        rr.naptr("naptr.test", 10, 10, "SIP+D2X", "_sip._x.naptr.test"),
        rr.naptr("naptr.test", 10, 20, "SIP+D2U", "other.naptr.test", "a"),
      ],
      "SRV _sip._udp.naptr.test": [rr.srv("_sip._udp.naptr.test", 10, 0, 5070, "u.naptr.test")],
      "SRV _sip._tcp.naptr.test": [rr.srv("_sip._tcp.naptr.test", 20, 0, 5072, "t2.naptr.test"), rr.srv("_sip._tcp.naptr.test", 10, 0, 5071, "t1.naptr.test")],
      "SRV _sips._tcp.naptr.test": [rr.srv("_sips._tcp.naptr.test", 10, 0, 5061, "s.naptr.test")],
      "A u.naptr.test": [rr.a("u.naptr.test", "192.0.2.10")],
      "A t1.naptr.test": [rr.a("t1.naptr.test", "192.0.2.11")],
      "A t2.naptr.test": [rr.a("t2.naptr.test", "192.0.2.12")],
      "AAAA t2.naptr.test": [rr.aaaa("t2.naptr.test", "2001:db8::12")],
      "A s.naptr.test": [rr.a("s.naptr.test", "192.0.2.13")],
      // No NAPTR: SRV for TCP only.
      "SRV _sip._tcp.srv.test": [rr.srv("_sip._tcp.srv.test", 1, 0, 5080, "host.srv.test")],
      "A host.srv.test": [rr.a("host.srv.test", "192.0.2.20")],
      "SRV _sip._udp.dot.test": [rr.srv("_sip._udp.dot.test", 0, 0, 0, ".")],
      "A dot.test": [rr.a("dot.test", "192.0.2.40")],
      // Neither: address records only.
      "A plain.test": [rr.a("plain.test", "192.0.2.30"), rr.a("plain.test", "192.0.2.31")],
    });
    resolver = systemResolver([dns.server]);
  });
  after(() => dns.close());

  const resolve = (uri: string, transports?: Array<"udp" | "tcp" | "tls" | "ws" | "wss">) => resolveTargets(sip(uri), { resolver, random: firstDraw, ...(transports ? { transports } : {}) });

  it("follows NAPTR (order, then preference; known services with flag s only) to SRV to addresses", async () => {
    const got = await resolve("sip:bob@naptr.test");
    assert.deepEqual(got, [
      { transport: "tls", address: "192.0.2.13", port: 5061, servername: "naptr.test" },
      { transport: "tcp", address: "192.0.2.11", port: 5071, servername: "naptr.test" },
      { transport: "tcp", address: "192.0.2.12", port: 5072, servername: "naptr.test" },
      { transport: "tcp", address: "2001:db8::12", port: 5072, servername: "naptr.test" },
      { transport: "udp", address: "192.0.2.10", port: 5070, servername: "naptr.test" },
    ]);
    assert.ok(!dns.queries.includes("SRV _sip._x.naptr.test") && !dns.queries.includes("SRV other.naptr.test"));
  });

  it("keeps to the transports we can use, and to TLS for a sips URI", async () => {
    assert.deepEqual((await resolve("sip:bob@naptr.test", ["udp"])).map((d) => d.transport), ["udp"]);
    assert.deepEqual(await resolve("sips:bob@naptr.test"), [{ transport: "tls", address: "192.0.2.13", port: 5061, servername: "naptr.test" }]);
  });

  it("without NAPTR records, asks SRV for each transport; without SRV, the address records on the default port", async () => {
    assert.deepEqual(await resolve("sip:bob@srv.test"), [{ transport: "tcp", address: "192.0.2.20", port: 5080, servername: "srv.test" }]);
    assert.ok(dns.queries.includes("SRV _sip._udp.srv.test") && dns.queries.includes("SRV _sip._tcp.srv.test"));
    assert.deepEqual(await resolve("sip:bob@plain.test"), [
      { transport: "udp", address: "192.0.2.30", port: 5060, servername: "plain.test" },
      { transport: "udp", address: "192.0.2.31", port: 5060, servername: "plain.test" },
    ]);
    assert.deepEqual(await resolve("sips:bob@plain.test"), [
      { transport: "tls", address: "192.0.2.30", port: 5061, servername: "plain.test" },
      { transport: "tls", address: "192.0.2.31", port: 5061, servername: "plain.test" },
    ]);
    // An SRV target of "." says the service is not there.
    assert.deepEqual(await resolve("sip:bob@dot.test"), [{ transport: "udp", address: "192.0.2.40", port: 5060, servername: "dot.test" }]);
  });

  it("with an explicit transport, asks SRV of that transport only; with a port or an IP, no NAPTR or SRV", async () => {
    const before = dns.queries.length;
    assert.deepEqual(await resolve("sip:bob@naptr.test;transport=udp"), [{ transport: "udp", address: "192.0.2.10", port: 5070, servername: "naptr.test" }]);
    assert.deepEqual(dns.queries.slice(before), ["SRV _sip._udp.naptr.test", "A u.naptr.test", "AAAA u.naptr.test"]);
    const mark = dns.queries.length;
    assert.deepEqual(await resolve("sip:bob@plain.test:5099;transport=tcp"), [
      { transport: "tcp", address: "192.0.2.30", port: 5099, servername: "plain.test" },
      { transport: "tcp", address: "192.0.2.31", port: 5099, servername: "plain.test" },
    ]);
    assert.deepEqual(dns.queries.slice(mark), ["A plain.test", "AAAA plain.test"]);
    assert.deepEqual(await resolve("sip:bob@192.0.2.50;transport=tls"), [{ transport: "tls", address: "192.0.2.50", port: 5061 }]);
    assert.deepEqual(await resolve("sip:bob@[2001:db8::1]:5062"), [{ transport: "udp", address: "2001:db8::1", port: 5062 }]);
    assert.deepEqual(await resolve("sip:bob@example.invalid;maddr=192.0.2.51"), [{ transport: "udp", address: "192.0.2.51", port: 5060 }]);
    assert.equal(dns.queries.length, mark + 2);
  });

  it("answers no destination, without throwing, for a name that does not resolve or a DNS server that does not answer", async () => {
    assert.deepEqual(await resolve("sip:bob@nothing.test"), []);
    const silent = dgram.createSocket("udp4");
    await new Promise<void>((r) => silent.bind(0, testIp(40, 54), () => r()));
    try {
      // Bounded by the resolver's own timeouts (the runner's timeout catches a hang).
      const dead = systemResolver([`${testNet(40)}.54:${silent.address().port}`]);
      assert.deepEqual(await resolveTargets(sip("sip:bob@plain.test:5060"), { resolver: dead }), []);
    } finally {
      silent.close();
    }
  });

  it("orders SRV records by priority, then by a weighted draw (RFC 2782)", () => {
    const recs = [
      { name: "a", port: 1, priority: 10, weight: 60 },
      { name: "b", port: 1, priority: 10, weight: 40 },
      { name: "c", port: 1, priority: 5, weight: 0 },
    ];
    assert.deepEqual(orderSrv(recs, () => 0).map((r) => r.name), ["c", "a", "b"]);
    assert.deepEqual(orderSrv(recs, () => 0.99).map((r) => r.name), ["c", "b", "a"]);
    const firsts = { a: 0, b: 0 };
    let seed = 1;
    const rnd = () => ((seed = (seed * 16807) % 2147483647) / 2147483647);
    for (let i = 0; i < 2000; i++) firsts[orderSrv(recs, rnd)[1]!.name as "a" | "b"]++;
    assert.ok(firsts.a > 1000 && firsts.a < 1400, `weight 60 of 100 first ${firsts.a} times of 2000`);
  });
});

describe("the proxy forwards to foreign domains found through RFC 3263, over outgoing WebSocket connections", () => {
  const HOST = testIp(40, 3);
  let dir: string;
  let dns: DnsServer;
  let server: SipServer;
  let port = 0;
  const peers: Array<{ wss: WebSocketServer; http: http.Server | https.Server; got: SipRequest[] }> = [];

  /** A foreign SIP server on a WebSocket: answers 200 to every request. */
  async function foreignWs(host: string, tlsFiles?: { cert: string; key: string }): Promise<{ port: number; got: SipRequest[] }> {
    const httpServer = tlsFiles ? https.createServer(tlsFiles) : http.createServer();
    const wss = new WebSocketServer({ server: httpServer, handleProtocols: (p) => (p.has("sip") ? "sip" : false) });
    const got: SipRequest[] = [];
    wss.on("connection", (ws: WebSocket) => {
      ws.on("message", (data: Buffer) => {
        const r = parseMessage(Buffer.from(data));
        if (!r.ok || !r.message.isRequest) return;
        got.push(r.message);
        ws.send(serializeMessage(createResponse(r.message, 200)).toString("utf8"));
      });
    });
    await new Promise<void>((r) => httpServer.listen(0, host, () => r()));
    peers.push({ wss, http: httpServer, got });
    return { port: (httpServer.address() as AddressInfo).port, got };
  }

  let ws: { port: number; got: SipRequest[] };
  let wssPeer: { port: number; got: SipRequest[] };

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "thor-sip-dns-"));
    const pki = join(dir, "pki");
    const ca = await initCa(pki);
    // The foreign server's certificate names its SIP domain (RFC 5922), not its address.
    const foreignCert = await issueCertificate(pki, "foreign", { dns: ["secure.test"], roles: ["sip_proxy"] });
    const ourCert = await issueCertificate(pki, "proxy", { ip: [HOST], roles: ["sip_proxy"] });
    ws = await foreignWs(testIp(40, 61));
    wssPeer = await foreignWs(testIp(40, 62), { cert: readFileSync(foreignCert.certPath, "utf8"), key: readFileSync(foreignCert.keyPath, "utf8") });
    dns = await startDnsServer(testIp(40, 53), {
      "NAPTR foreign.test": [rr.naptr("foreign.test", 10, 10, "SIP+D2W", "_sip._ws.foreign.test")],
      "SRV _sip._ws.foreign.test": [rr.srv("_sip._ws.foreign.test", 10, 10, ws.port, "edge.foreign.test")],
      "A edge.foreign.test": [rr.a("edge.foreign.test", testIp(40, 61))],
      "NAPTR secure.test": [rr.naptr("secure.test", 10, 10, "SIPS+D2W", "_sips._ws.secure.test")],
      "SRV _sips._ws.secure.test": [rr.srv("_sips._ws.secure.test", 10, 10, wssPeer.port, "edge.secure.test")],
      "A edge.secure.test": [rr.a("edge.secure.test", testIp(40, 62))],
      // The same wss server for another domain: its certificate does not name it.
      "NAPTR impostor.test": [rr.naptr("impostor.test", 10, 10, "SIPS+D2W", "_sips._ws.impostor.test")],
      "SRV _sips._ws.impostor.test": [rr.srv("_sips._ws.impostor.test", 10, 10, wssPeer.port, "edge.secure.test")],
    });
    const creds = new MemoryCredentialStore("example.test");
    creds.set("alice", { password: "secret" });
    server = new SipServer({
      logger: silentLogger,
      // ws/wss listeners give the proxy an address to put in its Via on those transports.
      listen: [{ transport: "udp", host: HOST, port: 0 }, { transport: "ws", host: HOST, port: 0 }, { transport: "wss", host: HOST, port: 0 }],
      domains: ["example.test"],
      credentials: creds,
      algorithms: ["MD5"],
      // T1 50 ms: a request lost on a failed connection times out (Timer F) in 3.2 s.
      timers: { t1: 50 },
      resolver: systemResolver([dns.server]),
      tls: { cert: readFileSync(ourCert.certPath, "utf8"), key: readFileSync(ourCert.keyPath, "utf8"), ca: readFileSync(ca.certPath, "utf8") },
    });
    await server.start();
    port = server.transport.bound().find((b) => b.transport === "udp")!.boundPort;
  });

  after(async () => {
    await server?.stop();
    for (const p of peers) {
      for (const c of p.wss.clients) c.terminate();
      p.wss.close();
      await new Promise<void>((r) => p.http.close(() => r()));
    }
    await dns?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /** alice sends MESSAGE to `target`: 407, then with credentials; returns the final response text. */
  async function message(target: string, id: string): Promise<string> {
    const sock = dgram.createSocket("udp4");
    const got: string[] = [];
    sock.on("message", (m) => got.push(m.toString()));
    await new Promise<void>((r) => sock.bind(0, testIp(40, 70), () => r()));
    const me = sock.address().port;
    const send = (cseq: number, auth?: string) =>
      sock.send(
        Buffer.from(
          [
            `MESSAGE ${target} SIP/2.0`,
            `Via: SIP/2.0/UDP ${testNet(40)}.70:${me};branch=z9hG4bK${id}${cseq};rport`,
            `From: <sip:alice@example.test>;tag=${id}`,
            `To: <${target}>`,
            `Call-ID: ${id}`,
            `CSeq: ${cseq} MESSAGE`,
            "Max-Forwards: 70",
            ...(auth ? [`Proxy-Authorization: ${auth}`] : []),
            "Content-Type: text/plain",
            "Content-Length: 2",
            "",
            "hi",
          ].join("\r\n"),
        ),
        port,
        HOST,
      );
    try {
      send(1);
      const challenge = await waitFor(() => got.find((g) => g.startsWith("SIP/2.0 407")), { timeoutMs: 5000, message: "407" });
      const nonce = /nonce="([^"]+)"/.exec(challenge)![1]!;
      const response = digestResponse("MD5", computeHa1("MD5", "alice", "example.test", "secret"), nonce, "MESSAGE", target, { qop: "auth", nc: "00000001", cnonce: "c0ffee" });
      send(2, `Digest username="alice", realm="example.test", nonce="${nonce}", uri="${target}", response="${response}", algorithm=MD5, qop=auth, nc=00000001, cnonce="c0ffee"`);
      return await waitFor(() => got.find((g) => /^SIP\/2\.0 [2-6]\d\d/.test(g) && !g.startsWith("SIP/2.0 407")), { timeoutMs: 10_000, message: `final response for ${target}` });
    } finally {
      sock.close();
    }
  }

  it("NAPTR SIP+D2W -> SRV -> A: the request goes out on a new ws:// connection, the 200 comes back", async () => {
    const res = await message("sip:bob@foreign.test", "dnsws1");
    assert.match(res, /^SIP\/2\.0 200 OK/);
    assert.equal(ws.got.length, 1);
    assert.match(ws.got[0]!.vias[0]!, /^SIP\/2\.0\/WS /);
    assert.equal(ws.got[0]!.body.toString(), "hi");
    // A second request reuses the connection.
    assert.match(await message("sip:carol@foreign.test", "dnsws2"), /^SIP\/2\.0 200 OK/);
    assert.equal(peers[0]!.wss.clients.size, 1);
  });

  it("NAPTR SIPS+D2W: wss://, the certificate checked against the SIP domain", async () => {
    const res = await message("sip:bob@secure.test", "dnswss1");
    assert.match(res, /^SIP\/2\.0 200 OK/);
    assert.equal(wssPeer.got.length, 1);
    assert.match(wssPeer.got[0]!.vias[0]!, /^SIP\/2\.0\/WSS /);
  });

  it("refuses a wss peer whose certificate does not name the target domain: nothing is sent, the refused connection fails the request at once (503)", async () => {
    const before = wssPeer.got.length;
    const res = await message("sip:bob@impostor.test", "dnsimp");
    assert.match(res, /^SIP\/2\.0 503/);
    assert.equal(wssPeer.got.length, before);
  });

  it("a foreign domain that does not resolve gets a 5xx, not a hang", async () => {
    const res = await message("sip:bob@unknown.test", "dnsnone");
    assert.match(res, /^SIP\/2\.0 5\d\d/);
  });
});
