import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import tls from "node:tls";
import type { AddressInfo } from "node:net";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { authorizePeer, ConnectionGuard, initCa, issueCertificate, parsePassport, revokeCertificate, TlsIdentity, type PeerVerdict } from "../../src/pki/index.js";

/** A real TLS server on 127.0.0.1 using a member identity, and clients with good and bad certificates. */
describe("mutual TLS between members", () => {
  let dir: string;
  let otherDir: string;
  let server: tls.Server;
  let port: number;
  let identity: TlsIdentity;
  let guard: ConnectionGuard;
  const verdicts: PeerVerdict[] = [];
  const handshakeErrors: string[] = [];
  const dropped: string[] = [];

  const ids = (name: string, base = dir) => ({ ca: join(dir, "ca.crt"), cert: join(base, "certs", `${name}.crt`), key: join(base, "certs", `${name}.key`) });

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "thor-mtls-"));
    otherDir = mkdtempSync(join(tmpdir(), "thor-mtls-other-"));
    await initCa(dir);
    await initCa(otherDir, { commonName: "Other CA" });
    await issueCertificate(dir, "es1", { ou: "eventserver", ip: ["127.0.0.1"] });
    await issueCertificate(dir, "mgr1", { ou: "manager" });
    await issueCertificate(dir, "node1", { ou: "node" });
    await issueCertificate(dir, "node2", { ou: "node" });
    await issueCertificate(dir, "node3", { ou: "node" });
    await issueCertificate(otherDir, "intruder", { ou: "manager" });
    await revokeCertificate(dir, "node2");
    identity = await TlsIdentity.load({ ...ids("es1"), crl: join(dir, "crl.pem") });
    identity.watchCrl(50);
    guard = new ConnectionGuard(identity, (reason) => dropped.push(reason));
    const passports = [parsePassport("OU=manager"), parsePassport("OU=node,CN=node*")];
    server = tls.createServer(identity.serverOptions(), (socket) => {
      const v = authorizePeer(socket, identity, passports);
      verdicts.push(v);
      if (!v.ok) socket.destroy();
      else {
        guard.track(socket, v.peer);
        socket.write("welcome\n");
      }
    });
    identity.onCrlChange(() => server.setSecureContext(identity.serverOptions()));
    server.on("tlsClientError", (err) => handshakeErrors.push(err.message));
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
    port = (server.address() as AddressInfo).port;
  });

  after(async () => {
    guard.close();
    identity.close();
    await new Promise<void>((r) => server.close(() => r()));
    rmSync(dir, { recursive: true, force: true });
    rmSync(otherDir, { recursive: true, force: true });
  });

  /** Connect as `name`; resolves "welcome", or the error that ended the connection. */
  async function connect(name: string, base = dir): Promise<{ outcome: string; socket: tls.TLSSocket }> {
    const client = await TlsIdentity.load(ids(name, base));
    const socket = tls.connect({ ...client.clientOptions(), host: "127.0.0.1", port });
    const outcome = await new Promise<string>((resolve) => {
      socket.setEncoding("utf8");
      socket.on("data", (d: string) => resolve(d.trim()));
      socket.on("error", (e) => resolve(`error: ${e.message}`));
      socket.on("close", () => resolve("closed"));
    });
    return { outcome, socket };
  }

  it("accepts a certificate of the CA whose subject matches a passport", async () => {
    const { outcome, socket } = await connect("mgr1");
    assert.equal(outcome, "welcome");
    const v = verdicts.at(-1);
    assert.ok(v?.ok);
    assert.equal(v.peer.subject["CN"], "mgr1");
    assert.deepEqual(v.peer.roles, ["*"]);
    socket.destroy();
  });

  /** The last refusal, whether TLS itself failed the handshake or authorizePeer refused. */
  const lastRefusal = () => {
    const v = verdicts.at(-1);
    return v && !v.ok ? v.reason : handshakeErrors.at(-1);
  };

  it("refuses a certificate from another CA, naming the reason", async () => {
    const { outcome } = await connect("intruder", otherDir);
    assert.notEqual(outcome, "welcome");
    assert.match(lastRefusal() ?? "", /not authorized by CA: (UNABLE_TO_VERIFY_LEAF_SIGNATURE|UNABLE_TO_GET_ISSUER_CERT)/);
  });

  it("refuses a revoked certificate, naming the reason", async () => {
    const { outcome } = await connect("node2");
    assert.notEqual(outcome, "welcome");
    assert.match(lastRefusal() ?? "", /CERT_REVOKED|revoked/);
  });

  it("refuses a valid certificate whose subject matches no passport, saying why", async () => {
    const { outcome } = await connect("es1");
    assert.notEqual(outcome, "welcome");
    const v = verdicts.at(-1);
    assert.ok(v && !v.ok);
    assert.match(v.reason, /subject CN=es1,O=sipthor,OU=eventserver matches no passport \(OU=manager \| OU=node,CN=node\*\)/);
  });

  it("drops a live connection when its certificate is revoked, and refuses it afterwards", async () => {
    const { outcome, socket } = await connect("node3");
    assert.equal(outcome, "welcome");
    const closed = new Promise<void>((r) => socket.once("close", () => r()));
    await revokeCertificate(dir, "node3");
    await closed;
    assert.match(dropped.at(-1) ?? "", /certificate revoked \(serial [0-9A-F]+, CN=node3/);
    const again = await connect("node3");
    assert.notEqual(again.outcome, "welcome");
  });
});
