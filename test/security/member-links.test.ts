/**
 * Issue 10, item 11: every member-to-member link admits its peer the same
 * way (the pki member link): CA and current CRL, passports (an event
 * server must be OU=eventserver), CN = the member dialled, the address in
 * the certificate's IP SANs, and live connections of a revoked peer cut.
 * The internal SIP listener used to keep a revoked node trusted while its
 * connection stayed busy. Addresses: testIp(120, 0)/24.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import tls from "node:tls";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { KeyRing, silentLogger, systemClock } from "../../src/base/index.js";
import { EventClient, EventServer, LocalHub } from "../../src/events/index.js";
import { ControlLink, type RoleContext } from "../../src/node/index.js";
import { initCa, issueCertificate, revokeCertificate, TlsIdentity } from "../../src/pki/index.js";
import { SipProxyRole } from "../../src/roles/index.js";
import { MemoryCredentialStore } from "../../src/sip/index.js";
import { MemoryLogger } from "../support/memory-logger.js";
import { waitFor } from "../support/wait-for.js";
import { testIp, testNetRe } from "../support/slot.js";

const A = testIp(120, 1);
const B = testIp(120, 2);
const ELSEWHERE = testIp(120, 9);

describe("member links", { timeout: 60_000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), "thor-sec-links-"));
  const ca = join(dir, "ca");
  const identities: TlsIdentity[] = [];
  const cleanups: Array<() => Promise<void> | void> = [];

  const identity = async (name: string): Promise<TlsIdentity> => {
    const id = await TlsIdentity.load({ ca: join(ca, "ca.crt"), cert: join(ca, "certs", `${name}.crt`), key: join(ca, "certs", `${name}.key`), crl: join(ca, "crl.pem") });
    identities.push(id);
    return id;
  };

  before(async () => {
    await initCa(ca);
    await issueCertificate(ca, "node-a", { ou: "node", ip: [A], roles: ["sip_proxy"] });
    await issueCertificate(ca, "node-b", { ou: "node", ip: [B], roles: ["sip_proxy"] });
    await issueCertificate(ca, "node-c", { ou: "node", ip: [B], roles: ["sip_proxy"] });
    await issueCertificate(ca, "fake-es", { ou: "node", ip: [A] });
    await issueCertificate(ca, "es1", { ou: "eventserver", ip: [A] });
  });

  after(async () => {
    for (const c of cleanups.reverse()) await c();
    for (const i of identities) i.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /** A sip_proxy role on node-a with its internal listener on A; returns the internal port. */
  async function sipNode(): Promise<number> {
    const id = await identity("node-a");
    const control = new ControlLink({ identity: id, logger: silentLogger, host: A, port: 0, resolve: () => undefined });
    await control.start();
    const role = new SipProxyRole({ listen: [{ transport: "udp", host: A, port: 0 }], internal: { host: A, port: 0 }, domains: ["example.com"], keys: KeyRing.ephemeral(), credentials: new MemoryCredentialStore("example.com") });
    const hub = new LocalHub();
    const ctx: RoleContext = {
      bus: hub.attach({ CN: "node-a", OU: "node" }),
      logger: silentLogger,
      clock: systemClock,
      self: () => ({ id: "node-a", ip: A, roles: ["sip_proxy"], version: "t", ports: {}, attrs: {}, startedAt: 1 }),
      roleMap: () => undefined,
      snapshot: () => undefined,
      database: () => undefined,
      databases: { all: () => [], onChange: () => () => undefined },
      control,
      identity: id,
    };
    await role.start(ctx);
    cleanups.push(async () => {
      await role.stop();
      await control.stop();
    });
    const port = role.advertise().ports?.["sip_int"];
    assert.ok(port, "internal listener advertised");
    return port;
  }

  /** A TLS client with `name`'s certificate from `from`; resolves when the session is up. */
  async function peer(name: string, from: string, port: number): Promise<tls.TLSSocket> {
    const id = await identity(name);
    const socket = tls.connect({ host: A, port, ...{ localAddress: from }, ...id.clientOptions() });
    socket.on("error", () => undefined);
    cleanups.push(() => void socket.destroy());
    await new Promise<void>((resolve, reject) => {
      socket.once("secureConnect", () => resolve());
      socket.once("error", reject);
    });
    return socket;
  }

  const closed = (s: tls.TLSSocket) => new Promise<void>((resolve) => (s.destroyed ? resolve() : s.once("close", () => resolve())));

  it("the internal SIP listener cuts a node revoked while its connection stays busy", async () => {
    const port = await sipNode();
    const socket = await peer("node-b", B, port);
    let n = 0;
    const options = () => `OPTIONS sip:${A}:${port};transport=tls SIP/2.0\r\nVia: SIP/2.0/TLS ${B}:5070;branch=z9hG4bK-busy-${n}\r\nMax-Forwards: 70\r\nFrom: <sip:b@${B}>;tag=1\r\nTo: <sip:ping@${A}>\r\nCall-ID: busy-${n}\r\nCSeq: ${++n} OPTIONS\r\nContent-Length: 0\r\n\r\n`;
    // Busy: a request every 20 ms, so no idle timeout can be what ends it.
    const busy = setInterval(() => socket.writable && socket.write(options()), 20);
    cleanups.push(() => clearInterval(busy));
    let answered = 0;
    socket.on("data", () => answered++);
    await waitFor(() => answered > 0, { message: "the node answers over the internal listener" });
    const gone = closed(socket);
    await revokeCertificate(ca, "node-b");
    // node-a's identity reloads the CRL (as its poller would on the file change).
    for (const id of identities) await id.reloadCrl();
    await Promise.race([gone, new Promise((_, reject) => setTimeout(() => reject(new Error("the revoked node's busy connection was not cut within 5 s")), 5000))]);
  });

  it("the internal SIP listener refuses a node connecting from an address its certificate does not name", async () => {
    const port = await sipNode();
    const socket = await peer("node-c", ELSEWHERE, port);
    await Promise.race([closed(socket), new Promise((_, reject) => setTimeout(() => reject(new Error("a node certificate used from another address was kept")), 5000))]);
  });

  it("an event client accepts only OU=eventserver as an event server by default", async () => {
    const logger = new MemoryLogger();
    const fake = new EventServer({ identity: await identity("fake-es"), logger: silentLogger, host: A, port: 0 });
    const { port } = await fake.start();
    cleanups.push(() => fake.stop());
    const client = new EventClient({ identity: await identity("node-a"), logger, servers: [{ host: A, port }], reconnectBaseMs: 50, reconnectMaxMs: 200 });
    cleanups.push(() => client.close(200));
    await client.start();
    await waitFor(() => client.status()[0]?.lastError?.includes("matches no passport (OU=eventserver)"), { message: "the fake event server refused" });
    assert.equal(client.upCount, 0);
    // The real one is accepted.
    const real = new EventServer({ identity: await identity("es1"), logger: silentLogger, host: A, port: 0 });
    const r = await real.start();
    cleanups.push(() => real.stop());
    const ok = new EventClient({ identity: await identity("node-a"), logger: silentLogger, servers: [{ host: A, port: r.port }] });
    cleanups.push(() => ok.close(200));
    await ok.start();
    await waitFor(() => ok.upCount === 1, { message: "link to the real event server" });
  });

  it("the control link refuses a member whose certificate does not name the address it was dialled at", async () => {
    // node-c's certificate names B, but it serves on A: a stolen certificate moved to another machine.
    const liar = new ControlLink({ identity: await identity("node-c"), logger: silentLogger, host: A, port: 0, resolve: () => undefined });
    const where = await liar.start();
    cleanups.push(() => liar.stop());
    const caller = new ControlLink({ identity: await identity("node-a"), logger: silentLogger, host: A, port: 0, dialFrom: A, resolve: (id) => (id === "node-c" ? where : undefined) });
    cleanups.push(() => caller.stop());
    liar.handle("echo", (p) => p);
    await assert.rejects(caller.call("node-c", "echo", 1, 3000), new RegExp(String.raw`answers at ${testNetRe(120)}\.1, which is not in its certificate`));
  });
});
