import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import tls from "node:tls";
import net from "node:net";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { defineError, ThorError } from "../../src/base/index.js";
import { initCa, issueCertificate, revokeCertificate, TlsIdentity, type PeerIdentity, type TlsPaths } from "../../src/pki/index.js";
import {
  ControlClosedError,
  ControlLink,
  ControlPayloadError,
  ControlRemoteError,
  ControlTimeoutError,
  ControlUnreachableError,
  encodeControlFrame,
  type ControlLinkOptions,
} from "../../src/node/index.js";
import { MemoryLogger } from "../support/memory-logger.js";
import { waitFor } from "../support/wait-for.js";
import { LOCALHOST, testIp, testNet, testNetRe } from "../support/slot.js";

/** Our loopback subnet: testIp(45, 0)/24. */
const ip = (n: number) => `${testNet(45)}.${n}`;

const NotResponsibleError = defineError("THOR_TEST_NOT_RESPONSIBLE", "NotResponsibleError");

interface Member {
  name: string;
  link: ControlLink;
  identity: TlsIdentity;
  logger: MemoryLogger;
  /** How often this member's link asked where a member is: once per connection it dials. */
  resolved: Map<string, number>;
}

function assertError(err: unknown, cls: abstract new (...a: never[]) => ThorError, code: string, message?: RegExp): true {
  assert.ok(err instanceof cls, `expected ${cls.name}, got ${String(err)}`);
  assert.equal(err.code, code);
  if (message) assert.match(err.message, message);
  return true;
}

describe("control link over mutual TLS", () => {
  let dir: string;
  /** The membership as the links resolve it: member id → control endpoint. */
  const directory = new Map<string, { host: string; port: number }>();
  const members = new Map<string, Member>();
  const sockets: tls.TLSSocket[] = [];
  /** Handlers that never answer park their resolvers here, released at the end. */
  const parked: Array<() => void> = [];

  const paths = (name: string): TlsPaths => ({ ca: join(dir, "ca.crt"), cert: join(dir, "certs", `${name}.crt`), key: join(dir, "certs", `${name}.key`), crl: join(dir, "crl.pem") });

  /** Start a member's link on testNet(45).<n>, serving echo, slow, never and fail. */
  async function member(name: string, n: number, extra: Partial<ControlLinkOptions> = {}): Promise<Member> {
    const identity = await TlsIdentity.load(paths(name));
    const logger = new MemoryLogger();
    const resolved = new Map<string, number>();
    const link = new ControlLink({
      identity,
      logger,
      host: ip(n),
      port: 0,
      resolve: (id) => {
        resolved.set(id, (resolved.get(id) ?? 0) + 1);
        return directory.get(id);
      },
      ...extra,
    });
    link.handle("echo", (payload: unknown, peer: PeerIdentity) => ({ payload, from: peer.subject["CN"], ou: peer.subject["OU"] }));
    link.handle("slow", async (payload: unknown) => {
      const ms = typeof payload === "number" ? payload % 7 : 0;
      await new Promise((r) => setTimeout(r, ms));
      return payload;
    });
    link.handle("void", async () => undefined);
    link.handle("big", (payload: unknown) => "x".repeat(typeof payload === "number" ? payload : 0));
    link.handle("bigint", (payload: unknown) => (payload === "async" ? Promise.resolve(1n) : 1n));
    link.handle("never", () => new Promise((r) => parked.push(() => r(null))));
    link.handle("fail", (payload: unknown) => {
      if (payload === "thor") throw new NotResponsibleError("bob@example.com belongs to n3");
      if (payload === "async") return Promise.reject(new NotResponsibleError("asynchronously not mine"));
      throw new Error("plain failure");
    });
    const where = await link.start();
    assert.equal(where.host, ip(n));
    assert.ok(where.port > 0);
    assert.equal(link.port, where.port);
    directory.set(name, where);
    const m: Member = { name, link, identity, logger, resolved };
    members.set(name, m);
    return m;
  }

  const get = (name: string): Member => {
    const m = members.get(name);
    if (!m) throw new Error(`member ${name} not started`);
    return m;
  };

  /** A raw TLS client holding `name`'s certificate, connected to `to`'s control port. */
  async function rawClient(name: string, to: string): Promise<tls.TLSSocket> {
    const id = await TlsIdentity.load(paths(name));
    const where = directory.get(to)!;
    const socket = tls.connect({ host: where.host, port: where.port, ...id.clientOptions() });
    sockets.push(socket);
    socket.on("error", () => undefined);
    await new Promise<void>((resolve, reject) => {
      socket.once("secureConnect", () => resolve());
      socket.once("error", reject);
    });
    return socket;
  }

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "thor-control-"));
    await initCa(dir);
    // Members listen on testNet(45).x and dial from the default source address: their certificates name both (the member link checks).
    const ip = [LOCALHOST, ...Array.from({ length: 20 }, (_, i) => `${testNet(45)}.${i + 1}`)];
    for (const n of ["n1", "n2", "n3", "n4", "n5", "rev", "raw", "small", "srv", "liar"]) await issueCertificate(dir, n, { ou: "node", ip });
    await issueCertificate(dir, "mgr1", { ou: "manager", ip });
    await member("n1", 1);
    await member("n2", 2);
    await member("n3", 3);
  });

  after(async () => {
    for (const release of parked) release();
    for (const s of sockets) s.destroy();
    for (const m of members.values()) {
      await m.link.stop();
      m.identity.close();
    }
    rmSync(dir, { recursive: true, force: true });
  });

  it("answers a call with the handler's value, and the handler sees the caller's certificate", async () => {
    const n1 = get("n1");
    const n2 = get("n2");
    const served = n2.link.stats.requestsServed;
    const v = await n1.link.call("n2", "echo", { aor: "alice@example.com", n: [1, 2, 3] });
    assert.deepEqual(v, { payload: { aor: "alice@example.com", n: [1, 2, 3] }, from: "n1", ou: "node" });
    assert.equal(n2.link.stats.requestsServed, served + 1);
    assert.equal(n1.link.stats.callsSent, 1);
    assert.equal(n1.link.stats.callsFailed, 0);
    // calls go both ways: n2 dials its own connection to n1
    assert.deepEqual(await n2.link.call("n1", "echo", "back"), { payload: "back", from: "n2", ou: "node" });
  });

  it("carries many concurrent calls over one connection, answers matched by id whatever their order", async () => {
    const n3 = get("n3");
    const count = 300;
    // Each call is bounded by its own timeout (10 s); none may fail.
    const results = await Promise.all(Array.from({ length: count }, (_, i) => n3.link.call("n2", "slow", i, 10_000)));
    assert.deepEqual(results, Array.from({ length: count }, (_, i) => i));
    assert.equal(n3.resolved.get("n2"), 1, "one dial for all the calls");
    // the connection stays open for later calls
    assert.equal(await n3.link.call("n2", "slow", 1), 1);
    assert.equal(n3.resolved.get("n2"), 1);
  });

  it("answers null when an async handler resolves to undefined", async () => {
    assert.equal(await get("n1").link.call("n2", "void", {}), null);
  });

  it("turns a handler's ThorError into a ControlRemoteError naming the remote code and message", async () => {
    const n1 = get("n1");
    const failed = n1.link.stats.callsFailed;
    await assert.rejects(n1.link.call("n2", "fail", "thor"), (err) =>
      assertError(err, ControlRemoteError, "THOR_NODE_CONTROL_REMOTE", /^n2 answered THOR_TEST_NOT_RESPONSIBLE: bob@example\.com belongs to n3$/),
    );
    await assert.rejects(n1.link.call("n2", "fail", "async"), (err) =>
      assertError(err, ControlRemoteError, "THOR_NODE_CONTROL_REMOTE", /^n2 answered THOR_TEST_NOT_RESPONSIBLE: asynchronously not mine$/),
    );
    assert.equal(n1.link.stats.callsFailed, failed + 2);
  });

  it("answers code internal for an error that is not a ThorError, and logs it on the serving side", async () => {
    const n2 = get("n2");
    await assert.rejects(get("n1").link.call("n2", "fail", "plain"), (err) => assertError(err, ControlRemoteError, "THOR_NODE_CONTROL_REMOTE", /^n2 answered internal: plain failure$/));
    assert.ok(n2.logger.entries.some((e) => e.level === "error" && e.msg === "control handler failed" && e.fields["method"] === "fail"));
  });

  it("answers unknown-method for a method without a handler", async () => {
    await assert.rejects(get("n1").link.call("n2", "no.such.method", null), (err) =>
      assertError(err, ControlRemoteError, "THOR_NODE_CONTROL_REMOTE", /^n2 answered unknown-method: no handler for no\.such\.method$/),
    );
  });

  it("answers THOR_NODE_CONTROL_PAYLOAD when a handler's value is not JSON, sync or async, without crashing the server", async () => {
    const n2 = get("n2");
    for (const mode of ["sync", "async"]) {
      await assert.rejects(get("n1").link.call("n2", "bigint", mode), (err) =>
        assertError(err, ControlRemoteError, "THOR_NODE_CONTROL_REMOTE", /^n2 answered THOR_NODE_CONTROL_PAYLOAD: answer to bigint is not JSON-serializable \(.*BigInt/),
      );
    }
    assert.ok(n2.logger.entries.some((e) => e.msg === "control answer not sent" && e.fields["method"] === "bigint"));
  });

  it("refuses to send a request that is not JSON, at once, keeping the connection", async () => {
    const n1 = get("n1");
    const dials = n1.resolved.get("n2");
    const circular: Record<string, unknown> = {};
    circular["self"] = circular;
    // A payload error, not a timeout (ControlTimeoutError): refused before anything was sent.
    await assert.rejects(n1.link.call("n2", "echo", circular, 5000), (err) => assertError(err, ControlPayloadError, "THOR_NODE_CONTROL_PAYLOAD", /^echo to n2: request is not JSON-serializable/));
    assert.equal(await n1.link.call("n2", "slow", 2), 2);
    assert.equal(n1.resolved.get("n2"), dials);
  });

  it("keeps frames over the limit off the wire, so one oversized answer or request fails only its own call", async () => {
    const small = await member("small", 7, { maxFrame: 4096 });
    const n1 = get("n1");
    const concurrent = n1.link.call("small", "slow", 6, 5000);
    // The first call to `small` dials it (a TLS handshake): a loaded machine gets more than the default timeout.
    await assert.rejects(n1.link.call("small", "big", 10_000, 10_000), (err) =>
      assertError(err, ControlRemoteError, "THOR_NODE_CONTROL_REMOTE", /^small answered THOR_NODE_CONTROL_PAYLOAD: answer to big of 100\d\d bytes exceeds the frame limit of 4096 bytes$/),
    );
    assert.equal(await concurrent, 6, "the other call on the connection is answered");
    assert.equal(await n1.link.call("small", "big", 100), "x".repeat(100));
    assert.equal(n1.resolved.get("small"), 1, "one connection throughout");
    await assert.rejects(small.link.call("n2", "echo", "y".repeat(5000)), (err) => assertError(err, ControlPayloadError, "THOR_NODE_CONTROL_PAYLOAD", /^echo to n2: request of 50\d\d bytes exceeds the frame limit of 4096 bytes$/));
    assert.equal(await small.link.call("n2", "slow", 4), 4);
    assert.equal(small.resolved.get("n2"), 1);
  });

  it("times out a call whose handler never answers, and the connection keeps serving", async () => {
    const n1 = get("n1");
    const dials = n1.resolved.get("n2");
    const t0 = Date.now();
    await assert.rejects(n1.link.call("n2", "never", null, 300), (err) => assertError(err, ControlTimeoutError, "THOR_NODE_CONTROL_TIMEOUT", /^never to n2: no answer within 300 ms$/));
    // Not before its timer (an upper bound would measure the machine's load, not the link).
    assert.ok(Date.now() - t0 >= 290, "timed out no earlier than the 300 ms asked for");
    assert.equal(await n1.link.call("n2", "slow", 3), 3);
    assert.equal(n1.resolved.get("n2"), dials, "no reconnection");
  });

  it("uses the link's default timeout when the call gives none", async () => {
    const quick = await member("n5", 5, { timeoutMs: 200 });
    await assert.rejects(quick.link.call("n2", "never", null), (err) => assertError(err, ControlTimeoutError, "THOR_NODE_CONTROL_TIMEOUT", /within 200 ms/));
  });

  it("fails a call to an unknown member or a closed port with ControlUnreachableError", async () => {
    const n1 = get("n1");
    await assert.rejects(n1.link.call("ghost", "echo", null), (err) =>
      assertError(err, ControlUnreachableError, "THOR_NODE_CONTROL_UNREACHABLE", /^member ghost is not in the membership or has no control port$/),
    );
    // a port nobody listens on: bind one, note it, close it
    const probe = net.createServer();
    await new Promise<void>((r) => probe.listen(0, ip(9), () => r()));
    const port = (probe.address() as net.AddressInfo).port;
    await new Promise<void>((r) => probe.close(() => r()));
    directory.set("gone", { host: ip(9), port });
    await assert.rejects(n1.link.call("gone", "echo", null), (err) => assertError(err, ControlUnreachableError, "THOR_NODE_CONTROL_UNREACHABLE", /ECONNREFUSED/));
  });

  it("refuses a dialled server whose certificate CN is not the member it was asked for", async () => {
    const n1 = get("n1");
    directory.set("n9", directory.get("n3")!); // a stale or forged membership entry: n9's address is n3
    await assert.rejects(n1.link.call("n9", "echo", null), (err) =>
      assertError(err, ControlUnreachableError, "THOR_NODE_CONTROL_UNREACHABLE", new RegExp(String.raw`^control link to n9 \(${testNetRe(45)}\.3:\d+\): dialled n9, but the server is CN=n3,O=sipthor,OU=node$`)),
    );
    assert.equal(n1.resolved.get("n9"), 1);
    // the refused connection is not cached: the next call dials again
    await assert.rejects(n1.link.call("n9", "echo", null), ControlUnreachableError);
    assert.equal(n1.resolved.get("n9"), 2);
  });

  it("refuses a caller whose certificate matches no passport (OU=manager) and counts it", async () => {
    const n2 = get("n2");
    const mgr = await member("mgr1", 11);
    const refused = n2.link.stats.refused;
    const served = n2.link.stats.requestsServed;
    await assert.rejects(mgr.link.call("n2", "echo", null, 2000), (err) => err instanceof ControlClosedError || err instanceof ControlUnreachableError);
    await waitFor(() => n2.link.stats.refused === refused + 1, { message: "refusal counted" });
    assert.equal(n2.link.stats.requestsServed, served);
    const line = n2.logger.entries.find((e) => e.msg === "control connection refused");
    assert.match(String(line?.fields["reason"]), /^subject CN=mgr1,O=sipthor,OU=manager matches no passport \(OU=node\)$/);
  });

  it("admits other kinds when its passports say so", async () => {
    const open = await member("n4", 4, { accept: [] }); // any certificate of the CA
    assert.deepEqual(await get("mgr1").link.call("n4", "echo", 1), { payload: 1, from: "mgr1", ou: "manager" });
    assert.equal(open.link.stats.refused, 0);
  });

  it("refuses a client without a certificate", async () => {
    const n2 = get("n2");
    const refused = n2.link.stats.refused;
    const where = directory.get("n2")!;
    const socket = tls.connect({ host: where.host, port: where.port, ca: n2.identity.clientOptions().ca, rejectUnauthorized: true, checkServerIdentity: () => undefined });
    sockets.push(socket);
    socket.on("error", () => undefined);
    await waitFor(() => socket.destroyed || socket.closed, { message: "socket closed by the server" });
    await waitFor(() => n2.link.stats.refused === refused + 1, { message: "refusal counted" });
    assert.ok(n2.logger.entries.some((e) => e.msg === "control connection refused" && e.fields["reason"] === "not authorized by CA: no certificate presented"));
  });

  it("drops a live connection when the caller's certificate is revoked, and refuses its new calls", async () => {
    const n2 = get("n2");
    const rev = await member("rev", 6);
    assert.deepEqual(await rev.link.call("n2", "echo", "before"), { payload: "before", from: "rev", ou: "node" });
    const pending = rev.link.call("n2", "never", null, 10_000);
    const outcome = pending.then(
      () => "answered",
      (err: unknown) => err,
    );
    await revokeCertificate(dir, "rev"); // marks it revoked and writes crl.pem
    assert.equal(await n2.identity.reloadCrl(), true);
    const err = await outcome;
    assertError(err, ControlClosedError, "THOR_NODE_CONTROL_CLOSED", /^connection to n2 closed before the answer$/);
    assert.ok(n2.logger.entries.some((e) => e.msg === "control connection dropped" && /^certificate revoked \(serial [0-9A-F]+, CN=rev,O=sipthor,OU=node\)$/.test(String(e.fields["reason"]))));
    const refused = n2.link.stats.refused;
    await assert.rejects(rev.link.call("n2", "echo", "after", 2000), (e) => e instanceof ControlClosedError || e instanceof ControlUnreachableError);
    await waitFor(() => n2.link.stats.refused === refused + 1, { message: "new connection refused" });
    // others are not affected
    assert.deepEqual(await get("n1").link.call("n2", "echo", "still"), { payload: "still", from: "n1", ou: "node" });
  });

  it("drops its own connection to a server whose certificate is revoked, and will not dial it again", async () => {
    const n3 = get("n3");
    await member("srv", 8);
    assert.deepEqual(await n3.link.call("srv", "echo", "before"), { payload: "before", from: "n3", ou: "node" });
    const outcome = n3.link.call("srv", "never", null, 10_000).then(
      () => "answered",
      (err: unknown) => err,
    );
    await revokeCertificate(dir, "srv");
    assert.equal(await n3.identity.reloadCrl(), true);
    assertError(await outcome, ControlClosedError, "THOR_NODE_CONTROL_CLOSED", /^connection to srv closed before the answer$/);
    assert.ok(n3.logger.entries.some((e) => e.msg === "control connection dropped" && /CN=srv,O=sipthor,OU=node\)$/.test(String(e.fields["reason"]))));
    await assert.rejects(n3.link.call("srv", "echo", "after"), (err) => assertError(err, ControlUnreachableError, "THOR_NODE_CONTROL_UNREACHABLE", /CERT_REVOKED/));
  });

  it("closes a connection that sends garbage after the handshake, and keeps serving others", async () => {
    const n2 = get("n2");
    const errors = n2.link.stats.protocolErrors;
    const garbage = [
      Buffer.from("GET / HTTP/1.1\r\nHost: n2\r\n\r\n"), // "GET " read as a length: refused from the header alone
      Buffer.concat([Buffer.from([0, 0, 0, 5]), Buffer.from("hello")]),
      Buffer.concat([Buffer.from([0, 0, 0, 11]), Buffer.from('{"hello":1}')]),
    ];
    for (const bytes of garbage) {
      const socket = await rawClient("raw", "n2");
      socket.write(bytes);
      await waitFor(() => socket.destroyed || socket.readableEnded, { message: "server closed the garbage connection" });
    }
    await waitFor(() => n2.link.stats.protocolErrors === errors + 3, { message: "protocol errors counted" });
    const reasons = n2.logger.entries.filter((e) => e.msg === "control link protocol error, closing connection").map((e) => String(e.fields["reason"]));
    assert.ok(reasons.includes("frame of 1195725856 bytes exceeds the limit of 8388608 bytes"), reasons.join("; "));
    assert.ok(reasons.includes("frame body is not JSON"));
    assert.ok(reasons.some((r) => r.startsWith("invalid frame: ")));
    assert.deepEqual(await get("n1").link.call("n2", "echo", "fine"), { payload: "fine", from: "n1", ou: "node" });
    assert.deepEqual(await get("n3").link.call("n2", "slow", 5), 5);
  });

  it("closes its own connection to a server that answers garbage, failing the calls on it, and dials afresh next time", async () => {
    const n1 = get("n1");
    const identity = await TlsIdentity.load(paths("liar"));
    let garbage = true;
    const open = new Set<tls.TLSSocket>();
    const server = tls.createServer(identity.serverOptions(), (s) => {
      open.add(s);
      s.on("error", () => undefined);
      s.on("data", () => {
        if (garbage) s.write("HTTP/1.1 400 Bad Request\r\n\r\n");
        else s.write(encodeControlFrame({ r: 1, ok: true, v: "fine" }));
      });
    });
    await new Promise<void>((r) => server.listen(0, ip(12), () => r()));
    try {
      directory.set("liar", { host: ip(12), port: (server.address() as net.AddressInfo).port });
      const errors = n1.link.stats.protocolErrors;
      await assert.rejects(n1.link.call("liar", "echo", null), (err) => assertError(err, ControlClosedError, "THOR_NODE_CONTROL_CLOSED", /^connection to liar closed before the answer$/));
      assert.equal(n1.link.stats.protocolErrors, errors + 1);
      assert.ok(n1.logger.entries.some((e) => e.msg === "control link protocol error, closing connection" && e.fields["peer"] === "liar"));
      garbage = false;
      assert.equal(await n1.link.call("liar", "echo", null), "fine");
      assert.equal(n1.resolved.get("liar"), 2);
    } finally {
      for (const s of open) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
      identity.close();
    }
  });

  it("ignores an answer for an id it never asked, without closing the connection", async () => {
    const n2 = get("n2");
    const socket = await rawClient("raw", "n2");
    const errors = n2.link.stats.protocolErrors;
    const got: Buffer[] = [];
    socket.on("data", (d: Buffer) => got.push(d));
    socket.write(encodeControlFrame({ r: 424242, ok: true, v: "stray" }));
    socket.write(encodeControlFrame({ q: 1, m: "echo", p: "raw" }));
    const answer = await waitFor(() => {
      const all = Buffer.concat(got);
      return all.length >= 4 && all.length >= 4 + all.readUInt32BE(0) ? JSON.parse(all.subarray(4, 4 + all.readUInt32BE(0)).toString("utf8")) : undefined;
    }, { message: "answer to the raw request" });
    assert.deepEqual(answer, { r: 1, ok: true, v: { payload: "raw", from: "raw", ou: "node" } });
    assert.equal(n2.link.stats.protocolErrors, errors);
    assert.ok(!socket.destroyed);
    socket.destroy();
  });

  it("rejects pending calls with ControlClosedError when the server stops, then cannot reach it", async () => {
    const n1 = get("n1");
    const n4 = get("n4");
    assert.deepEqual(await n1.link.call("n4", "echo", 0), { payload: 0, from: "n1", ou: "node" });
    const parkedBefore = parked.length;
    const outcomes = Array.from({ length: 5 }, () =>
      n1.link.call("n4", "never", null, 10_000).then(
        () => "answered",
        (err: unknown) => err,
      ),
    );
    await waitFor(() => parked.length >= parkedBefore + 5, { message: "calls reached the server" });
    await n4.link.stop();
    for (const err of await Promise.all(outcomes)) assertError(err, ControlClosedError, "THOR_NODE_CONTROL_CLOSED", /^connection to n4 closed before the answer$/);
    await assert.rejects(n1.link.call("n4", "echo", null), (err) => assertError(err, ControlUnreachableError, "THOR_NODE_CONTROL_UNREACHABLE", /ECONNREFUSED/));
    // a stopped link makes no new connections either (they would outlive it, unguarded)
    await assert.rejects(n4.link.call("n2", "echo", null), (err) => assertError(err, ControlClosedError, "THOR_NODE_CONTROL_CLOSED", /^control link is stopped$/));
    assert.equal(n4.resolved.get("n2"), undefined, "no dial");
  });

  it("gives up a dial that gets no TLS session within the timeout", async () => {
    const silent = net.createServer(() => undefined); // accepts TCP, never speaks TLS
    const held: net.Socket[] = [];
    silent.on("connection", (s) => {
      held.push(s);
      s.resume(); // read (and drop) the ClientHello, so the caller's close is seen
    });
    await new Promise<void>((r) => silent.listen(0, ip(10), () => r()));
    try {
      directory.set("mute", { host: ip(10), port: (silent.address() as net.AddressInfo).port });
      await assert.rejects(get("n1").link.call("mute", "echo", null, 300), (err) =>
        assertError(err, ControlUnreachableError, "THOR_NODE_CONTROL_UNREACHABLE", new RegExp(String.raw`^control link to mute \(${testNetRe(45)}\.10:\d+\): no TLS session within 300 ms$`)),
      );
      await waitFor(() => held.length === 1 && held[0]!.closed, { message: "the caller closed its half-open connection" });
    } finally {
      for (const s of held) s.destroy();
      await new Promise<void>((r) => silent.close(() => r()));
    }
  });
});
