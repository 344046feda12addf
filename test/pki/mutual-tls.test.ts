import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import tls from "node:tls";
import type { AddressInfo } from "node:net";
import { copyFileSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  authorizePeer,
  ConnectionGuard,
  initCa,
  issueCertificate,
  parsePassport,
  readIndex,
  revokeCertificate,
  roleAllowed,
  PkiInvalidError,
  TlsIdentity,
  type Passport,
  type PeerVerdict,
  type TlsPaths,
} from "../../src/pki/index.js";
import { waitFor } from "../support/wait-for.js";
import { LOCALHOST } from "../support/slot.js";

/** A member's TLS server as the event server builds one: authorizePeer on every connection, guard, fresh context on CRL change. */
class TestServer {
  readonly verdicts: PeerVerdict[] = [];
  readonly handshakeErrors: string[] = [];
  readonly dropped: string[] = [];
  readonly guard: ConnectionGuard;
  private readonly server: tls.Server;
  private readonly off: () => void;
  port = 0;

  constructor(
    readonly identity: TlsIdentity,
    passports: readonly Passport[],
    opts: { refreshContext: boolean },
  ) {
    this.guard = new ConnectionGuard(identity, (reason) => this.dropped.push(reason));
    this.server = tls.createServer(identity.serverOptions(), (socket) => {
      const v = authorizePeer(socket, identity, passports);
      this.verdicts.push(v);
      if (!v.ok) {
        socket.destroy();
        return;
      }
      this.guard.track(socket, v.peer);
      socket.write("welcome\n");
    });
    this.server.on("tlsClientError", (err) => this.handshakeErrors.push(err.message));
    this.off = opts.refreshContext ? identity.onCrlChange(() => this.server.setSecureContext(identity.serverOptions())) : () => {};
  }

  async listen(): Promise<this> {
    await new Promise<void>((r) => this.server.listen(0, LOCALHOST, () => r()));
    this.port = (this.server.address() as AddressInfo).port;
    return this;
  }

  /** The reason of the verdict after `count` verdicts, once it is there. */
  async verdict(count: number): Promise<PeerVerdict> {
    return waitFor(() => this.verdicts[count], { message: "server verdict" });
  }

  async close(): Promise<void> {
    this.off();
    this.guard.close();
    await new Promise<void>((r) => this.server.close(() => r()));
  }
}

interface Outcome {
  /** "welcome", "closed" or "error: <code>". */
  outcome: string;
  socket: tls.TLSSocket;
}

/** Connect with `options`; resolves with the first of: the welcome line, an error, the close. */
async function connect(port: number, options: tls.ConnectionOptions): Promise<Outcome> {
  const socket = tls.connect({ ...options, host: LOCALHOST, port });
  const outcome = await new Promise<string>((resolve) => {
    socket.setEncoding("utf8");
    socket.on("data", (d: string) => resolve(d.trim()));
    socket.on("error", (e: NodeJS.ErrnoException) => resolve(`error: ${e.code ?? e.message}`));
    socket.on("close", () => resolve("closed"));
  });
  return { outcome, socket };
}

describe("mutual TLS between members", () => {
  let dir: string;
  let otherDir: string;
  let identity: TlsIdentity;
  let server: TestServer;
  const clients: TlsIdentity[] = [];
  const sockets: tls.TLSSocket[] = [];
  let shortNotAfter = 0;

  const paths = (name: string, base = dir): TlsPaths => ({ ca: join(dir, "ca.crt"), cert: join(base, "certs", `${name}.crt`), key: join(base, "certs", `${name}.key`), crl: join(dir, "crl.pem") });
  const client = async (name: string, base = dir) => {
    const id = await TlsIdentity.load(paths(name, base));
    clients.push(id);
    return id;
  };
  const connectAs = async (name: string, base = dir, port = server.port) => {
    const res = await connect(port, (await client(name, base)).clientOptions());
    sockets.push(res.socket);
    return res;
  };

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "thor-mtls-"));
    otherDir = mkdtempSync(join(tmpdir(), "thor-mtls-other-"));
    await initCa(dir);
    await initCa(otherDir, { commonName: "Other CA" });
    await issueCertificate(dir, "short", { ou: "node", days: 1 / 86_400 }); // expired by the time it is used
    shortNotAfter = Date.parse(readIndex(dir)[0]?.notAfter ?? "");
    await issueCertificate(dir, "es1", { ou: "eventserver", ip: [LOCALHOST] });
    await issueCertificate(dir, "mgr1", { ou: "manager", roles: ["sip_proxy", "media_relay"] });
    for (const n of ["node1", "node2", "node3", "node4", "node5"]) await issueCertificate(dir, n, { ou: "node" });
    await issueCertificate(otherDir, "intruder", { ou: "manager" });
    await revokeCertificate(dir, "node2");
    identity = await TlsIdentity.load(paths("es1"));
    identity.watchCrl(50);
    server = await new TestServer(identity, [parsePassport("OU=manager"), parsePassport("OU=node,CN=node*")], { refreshContext: true }).listen();
  });

  after(async () => {
    for (const s of sockets) s.destroy();
    await server.close();
    identity.close();
    for (const c of clients) c.close();
    rmSync(dir, { recursive: true, force: true });
    rmSync(otherDir, { recursive: true, force: true });
  });

  it("accepts a certificate of the CA whose subject matches a passport, with its roles and serial", async () => {
    const n = server.verdicts.length;
    const { outcome, socket } = await connectAs("mgr1");
    assert.equal(outcome, "welcome");
    const v = await server.verdict(n);
    assert.ok(v.ok);
    assert.deepEqual(v.peer.subject, { CN: "mgr1", O: "sipthor", OU: "manager" });
    assert.deepEqual(v.peer.roles, ["sip_proxy", "media_relay"]);
    assert.equal(v.peer.serial, readIndex(dir).find((e) => e.name === "mgr1")?.serial.toUpperCase());
    assert.ok(roleAllowed(v.peer.roles, "sip_proxy"));
    assert.ok(!roleAllowed(v.peer.roles, "voicemail"));
    assert.ok(roleAllowed(["*"], "voicemail"));
    socket.destroy();
  });

  it("connects with the cached secure context too", async () => {
    const c = await client("node1");
    const ctx = c.secureContext();
    assert.equal(c.secureContext(), ctx);
    const res = await connect(server.port, { secureContext: ctx, rejectUnauthorized: true, checkServerIdentity: () => undefined });
    sockets.push(res.socket);
    assert.equal(res.outcome, "welcome");
    res.socket.destroy();
  });

  it("refuses a certificate from another CA, naming the reason", async () => {
    const n = server.verdicts.length;
    const { outcome } = await connectAs("intruder", otherDir);
    assert.notEqual(outcome, "welcome");
    const v = await server.verdict(n);
    assert.ok(!v.ok);
    assert.match(v.reason, /^not authorized by CA: (UNABLE_TO_VERIFY_LEAF_SIGNATURE|UNABLE_TO_GET_ISSUER_CERT)/);
  });

  it("refuses a client without a certificate", async () => {
    const n = server.verdicts.length;
    const res = await connect(server.port, { ca: identity.clientOptions().ca, rejectUnauthorized: true, checkServerIdentity: () => undefined });
    sockets.push(res.socket);
    assert.notEqual(res.outcome, "welcome");
    const v = await server.verdict(n);
    assert.ok(!v.ok);
    assert.equal(v.reason, "not authorized by CA: no certificate presented");
  });

  it("refuses a certificate revoked by the CRL, naming the reason", async () => {
    const n = server.verdicts.length;
    const { outcome } = await connectAs("node2");
    assert.notEqual(outcome, "welcome");
    const v = await server.verdict(n);
    assert.ok(!v.ok);
    assert.equal(v.reason, "not authorized by CA: CERT_REVOKED");
  });

  it("refuses an expired certificate, naming the reason", async () => {
    await waitFor(() => Date.now() > shortNotAfter + 1_000, { timeoutMs: 5_000, message: "certificate expiry" });
    const n = server.verdicts.length;
    const { outcome } = await connectAs("short");
    assert.notEqual(outcome, "welcome");
    const v = await server.verdict(n);
    assert.ok(!v.ok);
    assert.equal(v.reason, "not authorized by CA: CERT_HAS_EXPIRED");
  });

  it("refuses a valid certificate whose subject matches no passport, saying why", async () => {
    const n = server.verdicts.length;
    const { outcome } = await connectAs("es1");
    assert.notEqual(outcome, "welcome");
    const v = await server.verdict(n);
    assert.ok(!v.ok);
    assert.equal(v.reason, "subject CN=es1,O=sipthor,OU=eventserver matches no passport (OU=manager | OU=node,CN=node*)");
  });

  it("a client refuses a server whose certificate is revoked", async () => {
    const revokedServerId = await client("node2");
    const other = await new TestServer(revokedServerId, [], { refreshContext: false }).listen();
    try {
      const { outcome } = await connectAs("node1", dir, other.port);
      assert.equal(outcome, "error: CERT_REVOKED");
    } finally {
      await other.close();
    }
  });

  it("drops a live connection when its certificate is revoked, and refuses it at the handshake afterwards", async () => {
    const { outcome, socket } = await connectAs("node3");
    assert.equal(outcome, "welcome");
    await waitFor(() => server.guard.size > 0, { message: "connection tracked" });
    await revokeCertificate(dir, "node3");
    await waitFor(() => socket.destroyed && server.dropped.length > 0, { message: "live connection dropped" });
    assert.match(server.dropped.at(-1) ?? "", /^certificate revoked \(serial [0-9A-F]+, CN=node3,O=sipthor,OU=node\)$/);
    assert.equal(server.guard.size, 0);
    // the server swapped in a secure context with the new CRL: TLS itself now flags the certificate
    const n = server.verdicts.length;
    const again = await connectAs("node3");
    assert.notEqual(again.outcome, "welcome");
    const v = await server.verdict(n);
    assert.ok(!v.ok);
    assert.equal(v.reason, "not authorized by CA: CERT_REVOKED");
  });

  it("authorizePeer checks the current CRL even when the handshake used an older one", async () => {
    const stale = await client("es1"); // not watching: its server keeps the CRL of load time
    const staleServer = await new TestServer(stale, [], { refreshContext: false }).listen();
    try {
      const first = await connectAs("node4", dir, staleServer.port);
      assert.equal(first.outcome, "welcome");
      first.socket.destroy();
      const serial = readIndex(dir).find((e) => e.name === "node4")?.serial.toUpperCase();
      await revokeCertificate(dir, "node4");
      assert.equal(await stale.reloadCrl(), true);
      assert.ok(stale.isRevoked(serial ?? ""));
      const n = staleServer.verdicts.length;
      const second = await connectAs("node4", dir, staleServer.port);
      assert.notEqual(second.outcome, "welcome");
      const v = await staleServer.verdict(n);
      assert.ok(!v.ok);
      assert.equal(v.reason, `certificate revoked (serial ${serial}, CN=node4,O=sipthor,OU=node)`);
    } finally {
      await staleServer.close();
    }
  });

  it("reloadCrl adopts only CRLs signed by the CA, rebuilds the secure context and notifies listeners", async () => {
    const id = await client("node5");
    const ctx = id.secureContext();
    let changes = 0;
    const off = id.onCrlChange(() => changes++);
    assert.equal(await id.reloadCrl(), false, "unchanged file");
    const node2 = readIndex(dir).find((e) => e.name === "node2")?.serial ?? "";
    assert.ok(id.isRevoked(node2));
    assert.ok(id.isRevoked(node2.toLowerCase().replace(/(..)/g, "$1:").slice(0, -1)), "colons and case do not matter");
    assert.ok(!id.isRevoked(readIndex(dir).find((e) => e.name === "node5")?.serial ?? "x"));
    assert.ok((id.crlNextUpdate?.getTime() ?? 0) > Date.now() + 29 * 86_400_000);

    const foreign = mkdtempSync(join(tmpdir(), "thor-mtls-foreign-"));
    try {
      copyFileSync(join(otherDir, "crl.pem"), join(foreign, "crl.pem"));
      const withForeign: TlsPaths = { ...paths("node5"), crl: join(foreign, "crl.pem") };
      await assert.rejects(TlsIdentity.load(withForeign), (err: unknown) => err instanceof PkiInvalidError && /not signed by the CA/.test((err as Error).message));
      // a running member whose crl.pem is replaced by a foreign CRL keeps the previous one
      copyFileSync(join(dir, "crl.pem"), join(foreign, "mine.pem"));
      const member = await TlsIdentity.load({ ...paths("node5"), crl: join(foreign, "mine.pem") });
      clients.push(member);
      copyFileSync(join(otherDir, "crl.pem"), join(foreign, "mine.pem"));
      assert.equal(await member.reloadCrl(), false);
      assert.match(member.lastCrlError ?? "", /mine\.pem: CRL not issued or not signed by the CA/);
      assert.ok(member.isRevoked(node2));
    } finally {
      rmSync(foreign, { recursive: true, force: true });
    }

    await revokeCertificate(dir, "node5");
    assert.equal(await id.reloadCrl(), true);
    assert.equal(changes, 1);
    assert.notEqual(id.secureContext(), ctx);
    assert.ok(id.isRevoked(readIndex(dir).find((e) => e.name === "node5")?.serial ?? "x"));
    off();
  });

  it("refuses to load a key that does not belong to the certificate", async () => {
    await assert.rejects(TlsIdentity.load({ ...paths("node1"), key: paths("mgr1").key }), PkiInvalidError);
    await assert.rejects(TlsIdentity.load({ ...paths("node1"), cert: join(dir, "nope.crt") }), PkiInvalidError);
  });
});
