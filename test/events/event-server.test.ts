import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import dgram from "node:dgram";
import tls from "node:tls";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import dnsPacket from "dns-packet";
import { silentLogger } from "../../src/base/index.js";
import { discoverEventServers, encodeFrame, EventClient, EventServer, FrameDecoder, FrameTooLargeError, FrameType, type Endpoint } from "../../src/events/index.js";
import { initCa, issueCertificate, revokeCertificate, TlsIdentity } from "../../src/pki/index.js";
import { MemoryLogger } from "../support/memory-logger.js";
import { waitFor } from "../support/wait-for.js";
import { LOCALHOST, testIp } from "../support/slot.js";

const entity = (id: string, pad = "") => ({ id, ip: "10.0.0.1", roles: ["sip_proxy"], version: pad, ports: {}, attrs: {}, startedAt: 1 });

describe("event servers and clients over mutual TLS", () => {
  let dir: string;
  const identities: TlsIdentity[] = [];
  const servers: EventServer[] = [];
  const clients: EventClient[] = [];
  const endpoints: Endpoint[] = [];
  const logs = [new MemoryLogger(), new MemoryLogger()];

  const identity = async (name: string) => {
    const id = await TlsIdentity.load({ ca: join(dir, "ca.crt"), cert: join(dir, "certs", `${name}.crt`), key: join(dir, "certs", `${name}.key`), crl: join(dir, "crl.pem") });
    id.watchCrl(50);
    identities.push(id);
    return id;
  };
  const startServer = async (i: number, port = 0) => {
    const s = new EventServer({ identity: await identity(`es${i + 1}`), logger: logs[i]!, host: LOCALHOST, port, maxQueueBytes: 2 * 1024 * 1024 });
    const addr = await s.start();
    servers[i] = s;
    endpoints[i] = { host: LOCALHOST, port: addr.port };
  };
  /** What each client logged (debug included: its failed connection attempts). */
  const clientLogs = new Map<EventClient, MemoryLogger>();
  const client = async (name: string, eps: Endpoint[] = endpoints) => {
    const logger = new MemoryLogger();
    const c = new EventClient({ identity: await identity(name), logger, servers: eps, reconnectBaseMs: 50, reconnectMaxMs: 200 });
    clientLogs.set(c, logger);
    clients.push(c);
    await c.start();
    await waitFor(() => c.upCount === eps.length, { message: `${name} connected to all servers` });
    return c;
  };

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "thor-events-"));
    await initCa(dir);
    for (const name of ["es1", "es2"]) await issueCertificate(dir, name, { ou: "eventserver", ip: [LOCALHOST] });
    for (const name of ["a", "b", "c", "slow"]) await issueCertificate(dir, name, { ou: "node" });
    await startServer(0);
    await startServer(1);
  });

  after(async () => {
    for (const c of clients) await c.close(200);
    for (const s of servers) await s.stop();
    for (const i of identities) i.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("delivers each publication once, though it travels through both servers, stamped with the publisher's identity", async () => {
    const a = await client("a");
    const b = await client("b");
    const got: Array<{ id: string; cn: string | undefined }> = [];
    b.subscribe("Thor.Presence", (p, meta) => got.push({ id: p.id, cn: meta.publisher.subject["CN"] }));
    await waitFor(() => servers.every((s) => s.stats.connections >= 2), { message: "both connected" });
    // Subscriptions travel asynchronously; publish until the first delivery, then count.
    await waitFor(() => {
      a.publish("Thor.Presence", entity("probe"));
      return got.length > 0;
    }, { intervalMs: 50, message: "subscription active" });
    got.length = 0;
    const dupsBefore = b.counters.duplicates;
    for (let i = 0; i < 50; i++) a.publish("Thor.Presence", entity(`n${i}`));
    const ours = () => got.filter((g) => g.id.startsWith("n"));
    await waitFor(() => ours().length >= 50 && b.counters.duplicates - dupsBefore >= 50, { message: "50 events and 50 duplicates dropped" });
    assert.deepEqual(ours().map((g) => g.id), Array.from({ length: 50 }, (_, i) => `n${i}`));
    assert.ok(got.every((g) => g.cn === "a"));
  });

  it("drops payloads that do not match the topic schema", async () => {
    const [a, b] = clients as [EventClient, EventClient];
    const before = b.counters.invalid;
    a.publish("Thor.Presence", { bogus: true } as never);
    await waitFor(() => b.counters.invalid > before, { message: "invalid payload counted" });
  });

  it("disconnects a subscriber that stops reading, without stalling the others", async () => {
    const [a, b] = clients as [EventClient, EventClient];
    const slowId = await identity("slow");
    const slow = tls.connect({ ...slowId.clientOptions(), ...endpoints[0]! });
    await new Promise<void>((r) => slow.once("secureConnect", () => r()));
    slow.write(encodeFrame({ type: FrameType.SUBSCRIBE, body: { topics: ["Thor.Statistics"] } }));
    slow.pause();
    slow.on("error", () => undefined);
    await waitFor(() => servers[0]!.connectionCount >= 3, { message: "slow subscriber connected" });
    let received = 0;
    const off = b.subscribe("Thor.Statistics", (s) => {
      if (s.id === "bulk") received++;
    });
    // ~30 KB per event, 1000 events (30 MB): far beyond the 2 MiB queue plus the
    // kernel's socket buffers. Published in bursts the healthy subscriber keeps up with.
    const counters = Object.fromEntries(Array.from({ length: 2000 }, (_, i) => [`counter_${i}`, i]));
    const total = 1000;
    for (let i = 0; i < total; i += 20) {
      for (let j = i; j < i + 20; j++) a.publish("Thor.Statistics", { id: "bulk", ip: "10.0.0.1", at: j, roles: { pad: counters } });
      await waitFor(() => received >= i + 20, { timeoutMs: 10_000, message: `healthy subscriber keeps up (${received}/${i + 20})` });
    }
    // The stuck client never reads, so it never sees the FIN: the server's side is what counts.
    await waitFor(() => servers[0]!.stats.slowDisconnects >= 1, { timeoutMs: 10_000, message: "the stuck subscriber is disconnected" });
    slow.destroy();
    await waitFor(() => received >= total, { timeoutMs: 30_000, message: `all ${total} events reach the healthy subscriber` });
    assert.equal(received, total);
    off();
    assert.ok(servers[0]!.stats.slowDisconnects >= 1);
    assert.ok(logs[0]!.has("subscriber too slow, disconnecting"));
  });

  it("reconnects with backoff and resubscribes when a server comes back", async () => {
    const [a, b] = clients as [EventClient, EventClient];
    const port = endpoints[1]!.port;
    await servers[1]!.stop();
    await waitFor(() => b.upCount === 1 && a.upCount === 1, { message: "links to es2 down" });
    await startServer(1, port);
    await waitFor(() => b.upCount === 2 && a.upCount === 2, { message: "links to es2 back" });
    // Only es2 carries traffic now: delivery proves the subscription was renewed there.
    await servers[0]!.stop();
    await waitFor(() => b.upCount === 1, { message: "es1 gone" });
    let seen = false;
    b.subscribe("Thor.Leave", (l) => (seen ||= l.id === "via-es2"));
    await waitFor(() => {
      a.publish("Thor.Leave", { id: "via-es2", ip: "10.0.0.1" });
      return seen;
    }, { intervalMs: 100, message: "delivery through the restarted server" });
    await startServer(0, endpoints[0]!.port);
  });

  it("refuses publications the publish policy does not allow, keeping the connection", async () => {
    const [a, b] = clients as [EventClient, EventClient];
    let snapshots = 0;
    b.subscribe("Thor.Members", () => snapshots++);
    a.publish("Thor.Members", { kind: "beacon", epoch: 1, seq: 1, manager: "a", at: 1, count: 0, digest: "0000000000000000" });
    await waitFor(() => logs.some((l) => l.has("publication refused by publish policy")), { message: "refusal logged" });
    assert.equal(snapshots, 0);
    assert.ok(a.upCount >= 1);
  });

  it("delivers an addressed publication only to the certificates it names", async () => {
    const [a, b] = clients as [EventClient, EventClient];
    const c = await client("c");
    const seen = { b: [] as string[], c: [] as string[] };
    const offs = [b.subscribe("Thor.Presence", (p) => seen.b.push(p.id)), c.subscribe("Thor.Presence", (p) => seen.c.push(p.id))];
    await waitFor(() => {
      a.publish("Thor.Presence", entity("warm"));
      return seen.b.includes("warm") && seen.c.includes("warm");
    }, { intervalMs: 50, message: "both subscribed" });
    a.publish("Thor.Presence", entity("for-b"), { to: ["b"] });
    a.publish("Thor.Presence", entity("for-all"));
    await waitFor(() => seen.b.includes("for-all") && seen.c.includes("for-all"), { message: "broadcast after the addressed one" });
    assert.ok(seen.b.includes("for-b"));
    assert.ok(!seen.c.includes("for-b"), "not delivered to c");
    offs.forEach((off) => off());
  });

  it("answers an oversized frame with a clear error and keeps the connection; a client refuses to send one", async () => {
    const [a] = clients as [EventClient];
    const id = await identity("c");
    const raw = tls.connect({ ...id.clientOptions(), ...endpoints[0]! });
    await new Promise<void>((r) => raw.once("secureConnect", () => r()));
    const got: Buffer[] = [];
    raw.on("data", (d: Buffer) => got.push(d));
    const size = 2 * 1024 * 1024;
    const header = Buffer.alloc(5);
    header.writeUInt32BE(size, 0);
    header.writeUInt8(FrameType.PUBLISH, 4);
    raw.write(header);
    for (let sent = 1; sent < size; sent += 64 * 1024) raw.write(Buffer.alloc(Math.min(64 * 1024, size - sent), 0x20));
    raw.write(encodeFrame({ type: FrameType.PING, body: {} }));
    const frames = () => new FrameDecoder().push(Buffer.concat(got)).flatMap((r) => (r.ok ? [r.frame] : []));
    await waitFor(() => frames().some((f) => f.type === FrameType.PONG), { message: "PONG after the oversized frame: the connection lives" });
    const error = frames().find((f) => f.type === FrameType.ERROR);
    assert.ok(error?.type === FrameType.ERROR && error.body.code === "frame-too-large" && /exceeds the limit of 1048576 bytes/.test(error.body.message));
    assert.ok(servers[0]!.stats.oversized >= 1);
    raw.destroy();
    const huge = Object.fromEntries(Array.from({ length: 60_000 }, (_, i) => [`counter_${i}`, i]));
    const up = a.upCount;
    assert.throws(() => a.publish("Thor.Statistics", { id: "a", ip: "10.0.0.1", at: 1, roles: { pad: huge } }), FrameTooLargeError);
    assert.equal(a.upCount, up);
  });

  it("finds the event servers through DNS SRV", async () => {
    const dns = dgram.createSocket("udp4");
    dns.on("message", (msg, rinfo) => {
      const q = dnsPacket.decode(msg);
      const name = q.questions?.[0]?.name ?? "";
      const answers: dnsPacket.Answer[] =
        name === "_eventserver._tcp.example.test"
          ? [
              { type: "SRV", name, ttl: 60, data: { priority: 10, weight: 10, port: 8001, target: "es-b.example.test" } },
              { type: "SRV", name, ttl: 60, data: { priority: 5, weight: 10, port: 0, target: "es-a.example.test" } },
            ]
          : name === "es-a.example.test"
            ? [{ type: "A", name, ttl: 60, data: testIp(0, 21) }]
            : name === "es-b.example.test"
              ? [{ type: "A", name, ttl: 60, data: testIp(0, 22) }]
              : [];
      dns.send(dnsPacket.encode({ type: "response", id: q.id, flags: dnsPacket.RECURSION_DESIRED, questions: q.questions, answers }), rinfo.port, rinfo.address);
    });
    await new Promise<void>((r) => dns.bind(0, LOCALHOST, () => r()));
    try {
      const found = await discoverEventServers({ domain: "example.test", dnsServers: [`${LOCALHOST}:${dns.address().port}`] });
      assert.deepEqual(found, [{ host: testIp(0, 21), port: 8000 }, { host: testIp(0, 22), port: 8001 }]);
      await assert.rejects(discoverEventServers({ domain: "nothing.test", dnsServers: [`${LOCALHOST}:${dns.address().port}`] }), /THOR|SRV|names no/);
    } finally {
      dns.close();
    }
    assert.ok(readFileSync(join(dir, "ca.crt")).length > 0);
  });

  it("drops the link to an event server whose certificate is revoked, and does not reconnect to it", async () => {
    const [a] = clients as [EventClient];
    await waitFor(() => a.upCount === 2, { message: "both links up" });
    await revokeCertificate(dir, "es2");
    await waitFor(() => a.upCount === 1, { message: "link to es2 dropped" });
    const es2 = a.status().find((s) => s.endpoint.endsWith(`:${endpoints[1]!.port}`))!.endpoint;
    await waitFor(() => a.status().find((s) => s.endpoint === es2)?.lastError !== undefined, { message: "reason recorded" });
    // It keeps trying (backoff 50-200 ms) and every attempt fails: wait for three failed attempts after the drop.
    const log = clientLogs.get(a)!.entries;
    const mark = log.length;
    const about = (msg: string) => log.slice(mark).filter((e) => e.msg === msg && e.fields["endpoint"] === es2);
    await waitFor(() => about("event server connection failed").length >= 3, { timeoutMs: 10_000, message: `three refused reconnection attempts to ${es2}` });
    assert.deepEqual(about("event server link up"), [], "never up again");
    assert.notEqual(a.status().find((s) => s.endpoint === es2)?.state, "up");
    assert.equal(a.upCount, 1);
  });
});
