import { afterEach, describe, it } from "node:test";
import assert from "node:assert/strict";
import net from "node:net";
import { silentLogger } from "../../src/base/index.js";
import {
  formatAnswer,
  LookupAnswerError,
  LookupClient,
  LookupClosedError,
  LookupRequestError,
  LookupServer,
  LookupTimeoutError,
  parseRequest,
  queryLookup,
  RoleMap,
  type Entity,
  type LookupServerOptions,
} from "../../src/overlay/index.js";
import { waitFor } from "../support/wait-for.js";
import { LOCALHOST } from "../support/slot.js";

const entity = (id: string, ip: string, roles: string[]): Entity => ({ id, ip, roles, version: "1", ports: {}, attrs: {}, startedAt: 1 });
const map = RoleMap.fromMembers([entity("a", "10.0.0.1", ["sip_proxy"]), entity("b", "10.0.0.2", ["sip_proxy", "media_relay"]), entity("c", "10.0.0.3", ["sip_proxy"])]);

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function startServer(opts: Partial<LookupServerOptions> = {}): Promise<{ server: LookupServer; port: number }> {
  const server = new LookupServer({ host: LOCALHOST, port: 0, logger: silentLogger, resolve: () => map, ...opts });
  cleanups.push(() => server.stop());
  const { port } = await server.start();
  return { server, port };
}

/** A raw connection that records everything received. */
async function connect(port: number): Promise<{ socket: net.Socket; text: () => string; lines: () => string[]; closed: Promise<void> }> {
  const socket = net.connect(port, LOCALHOST);
  cleanups.push(() => socket.destroy());
  let text = "";
  socket.setEncoding("utf8").on("data", (d: string) => (text += d));
  const closed = new Promise<void>((resolve) => socket.on("close", () => resolve()));
  socket.on("error", () => undefined);
  await new Promise<void>((resolve, reject) => {
    socket.once("connect", () => resolve());
    socket.once("error", reject);
  });
  return { socket, text: () => text, lines: () => text.split("\r\n").slice(0, -1), closed };
}

const mixed = Array.from({ length: 1000 }, (_, i) =>
  i % 7 === 0 ? `is_online 10.0.0.${i % 5} as ${i % 2 ? "media_relay" : "sip_proxy"}` : i % 11 === 0 ? `lookup voicemail_server for u${i}@example.com` : i % 13 === 0 ? `frob ${i}` : `lookup sip_proxy for sip:u${i}@Example.com`,
);
const expected = mixed.map((l) => formatAnswer(parseRequest(l), map));

describe("lookup server on loopback", () => {
  it("answers pipelined requests in order, one CR LF line each", async () => {
    const { server, port } = await startServer();
    const c = await connect(port);
    c.socket.write(mixed.map((l) => `${l}\r\n`).join(""));
    await waitFor(() => c.lines().length >= mixed.length, { message: "all answers" });
    assert.deepEqual(c.lines(), expected);
    assert.ok(c.text().endsWith("\r\n"));
    assert.equal(server.answered, mixed.length);
  });

  it("answers the same however the requests are split into packets", async () => {
    const { port } = await startServer();
    const c = await connect(port);
    const bytes = Buffer.from(mixed.slice(0, 200).join("\n") + "\n");
    for (let i = 0, step = 1; i < bytes.length; i += step, step = (step * 7) % 53 || 1) c.socket.write(bytes.subarray(i, i + step));
    await waitFor(() => c.lines().length >= 200, { message: "200 answers" });
    assert.deepEqual(c.lines(), expected.slice(0, 200));
  });

  it("answers binary garbage, NUL and invalid UTF-8 with error lines and keeps the connection", async () => {
    const { port } = await startServer();
    const c = await connect(port);
    c.socket.write(Buffer.from([0, 1, 2, 0xff, 0xfe, 0x0a]));
    c.socket.write(Buffer.from([0x00, 0x00, 0x0d, 0x0a]));
    c.socket.write(Buffer.from([0x6c, 0x6f, 0x6f, 0x6b, 0x75, 0x70, 0x20, 0xc3, 0x28, 0x20, 0x66, 0x6f, 0x72, 0x20, 0x61, 0x40, 0x62, 0x0a])); // "lookup \xc3( for a@b"
    c.socket.write("lookup\n\nis_online 10.0.0.1\nlookup sip_proxy for alice@example.com\n");
    await waitFor(() => c.lines().length >= 7, { message: "7 answers" });
    const lines = c.lines();
    for (const l of lines.slice(0, 6)) assert.match(l, /^error: [\x20-\x7e]+$/);
    assert.match(lines[0]!, /^error: unknown command/);
    assert.match(lines[2]!, /^error: invalid role/);
    assert.equal(lines[4], "error: empty request");
    assert.equal(lines[6], map.lookup("sip_proxy", "alice@example.com")?.ip);
    assert.equal(c.socket.destroyed, false);
  });

  it("answers an over-long line with an error, closes, and keeps serving other clients", async () => {
    const { port } = await startServer({ maxLine: 128 });
    const c = await connect(port);
    c.socket.write("lookup sip_proxy for alice@example.com\n");
    c.socket.write(`${"x".repeat(500)}\n`);
    c.socket.write("lookup sip_proxy for never@answered.com\n");
    await c.closed;
    assert.deepEqual(c.lines(), [map.lookup("sip_proxy", "alice@example.com")!.ip, "error: line too long (limit 128 bytes)"]);

    const d = await connect(port);
    d.socket.write(Buffer.alloc(4096, 0x41)); // no newline at all
    await d.closed;
    assert.deepEqual(d.lines(), ["error: line too long (limit 128 bytes)"]);

    assert.deepEqual(await queryLookup(LOCALHOST, port, ["is_online 10.0.0.2 as media_relay"]), ["Yes"]);
  });

  it("says so while no membership is known", async () => {
    let current: RoleMap | undefined;
    const { port } = await startServer({ resolve: () => current });
    assert.deepEqual(await queryLookup(LOCALHOST, port, ["lookup sip_proxy for a@b.c", "is_online 10.0.0.1 as sip_proxy", "bogus"]), [
      "error: no membership yet",
      "error: no membership yet",
      'error: unknown command "bogus" (expected lookup or is_online)',
    ]);
    current = map;
    assert.deepEqual(await queryLookup(LOCALHOST, port, ["is_online 10.0.0.1 as sip_proxy"]), ["Yes"]);
  });

  it("closes idle connections", async () => {
    const { server, port } = await startServer({ idleMs: 150 });
    const c = await connect(port);
    c.socket.write("is_online 10.0.0.1 as sip_proxy\n");
    await c.closed;
    assert.deepEqual(c.lines(), ["Yes"]);
    await waitFor(() => server.connections === 0, { message: "connection forgotten" });
  });

  it("limits concurrent connections", async () => {
    const { server, port } = await startServer({ maxConnections: 2 });
    const a = new LookupClient(LOCALHOST, port);
    const b = new LookupClient(LOCALHOST, port);
    cleanups.push(() => a.close(), () => b.close());
    assert.equal(await a.isOnline("10.0.0.1", "sip_proxy"), true);
    assert.equal(await b.isOnline("10.0.0.1", "sip_proxy"), true);
    const third = new LookupClient(LOCALHOST, port, 2000);
    cleanups.push(() => third.close());
    await assert.rejects(third.isOnline("10.0.0.1", "sip_proxy"), LookupClosedError);
    a.close();
    await waitFor(() => server.connections === 1, { message: "a closed" });
    assert.deepEqual(await queryLookup(LOCALHOST, port, ["is_online 10.0.0.3 as sip_proxy"]), ["Yes"]);
    assert.equal(await b.isOnline("10.0.0.2", "media_relay"), true);
  });

  it("stops reading from a client that does not read its answers, and catches up when it does", async () => {
    const { server, port } = await startServer();
    const c = await connect(port);
    c.socket.pause();
    const total = 400_000;
    const line = `${"x".repeat(30)}\n`;
    c.socket.write(line.repeat(total));
    // Wait until the server has stopped answering (it is blocked on the client), then check it did not answer everything.
    let last = -1;
    await waitFor(
      () => {
        const now = server.answered;
        const stable = now === last && now > 0;
        last = now;
        return stable;
      },
      { intervalMs: 300, timeoutMs: 20_000, message: "server blocked on the client" },
    );
    assert.ok(server.answered < total, `answered ${server.answered} of ${total} without the client reading`);
    c.socket.resume();
    await waitFor(() => server.answered === total && c.text().length === total * `error: unknown command "${"x".repeat(30)}" (expected lookup or is_online)\r\n`.length, {
      timeoutMs: 20_000,
      message: "every answer",
    });
  });
});

describe("lookup client", () => {
  it("returns typed answers over one pipelined connection", async () => {
    const { server, port } = await startServer();
    const client = new LookupClient(LOCALHOST, port);
    cleanups.push(() => client.close());
    const keys = Array.from({ length: 300 }, (_, i) => `"User ${i}" <sip:u${i}@Example.com>`);
    const ips = await Promise.all(keys.map((k) => client.lookup("sip_proxy", k)));
    assert.deepEqual(ips, keys.map((k) => map.lookup("sip_proxy", k)?.ip));
    assert.equal(await client.lookup("voicemail_server", "a@b.c"), undefined);
    assert.equal(await client.isOnline("10.0.0.2", "media_relay"), true);
    assert.equal(await client.isOnline("10.0.0.1", "media_relay"), false);
    assert.equal(await client.request("frob"), 'error: unknown command "frob" (expected lookup or is_online)');
    assert.equal(server.connections, 1);
  });

  it("rejects error answers, bad keys and lines that would break the framing", async () => {
    const { port } = await startServer();
    const client = new LookupClient(LOCALHOST, port);
    cleanups.push(() => client.close());
    await assert.rejects(client.lookup("Bad-Role", "a@b.c"), (err: unknown) => err instanceof LookupAnswerError && /invalid role/.test(err.message));
    await assert.rejects(client.isOnline("nope", "sip_proxy"), LookupAnswerError);
    await assert.rejects(client.lookup("sip_proxy", "not-a-key"), LookupRequestError);
    await assert.rejects(client.request("is_online 10.0.0.1 as sip_proxy\r\nfrob"), LookupRequestError);
    assert.equal(await client.isOnline("10.0.0.1", "sip_proxy"), true, "the connection is still in step");
  });

  it("times out a request without losing step with later answers", async () => {
    // A server that answers in order, but takes 400 ms over the first request.
    const slow = net.createServer((s) => {
      let n = 0;
      let queue = Promise.resolve();
      s.setEncoding("utf8").on("data", (d: string) => {
        for (const _ of d.split("\n").slice(0, -1)) {
          const i = n++;
          queue = queue.then(() => new Promise<void>((r) => setTimeout(r, i === 0 ? 400 : 0))).then(() => void s.write(`answer ${i}\r\n`));
        }
      });
      s.on("error", () => undefined);
    });
    cleanups.push(() => new Promise((r) => slow.close(r)));
    await new Promise<void>((r) => slow.listen(0, LOCALHOST, () => r()));
    const client = new LookupClient(LOCALHOST, (slow.address() as net.AddressInfo).port, 300);
    cleanups.push(() => client.close());
    await assert.rejects(client.request("one"), LookupTimeoutError);
    // The late "answer 0" belongs to the timed-out request, not to this one.
    assert.equal(await client.request("two"), "answer 1");
    assert.equal(await client.request("three"), "answer 2");
  });

  it("fails with LookupClosedError when nobody listens or the server goes away", async () => {
    const probe = net.createServer();
    await new Promise<void>((r) => probe.listen(0, LOCALHOST, () => r()));
    const deadPort = (probe.address() as net.AddressInfo).port;
    await new Promise((r) => probe.close(r));
    const refused = new LookupClient(LOCALHOST, deadPort);
    await assert.rejects(refused.lookup("sip_proxy", "a@b.c"), LookupClosedError);
    await assert.rejects(refused.lookup("sip_proxy", "a@b.c"), LookupClosedError, "and stays failed");

    const { server, port } = await startServer();
    const client = new LookupClient(LOCALHOST, port);
    assert.equal(await client.isOnline("10.0.0.1", "sip_proxy"), true);
    await server.stop();
    await assert.rejects(client.isOnline("10.0.0.1", "sip_proxy"), LookupClosedError);
  });
});
