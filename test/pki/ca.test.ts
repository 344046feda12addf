import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { initCa, issueCertificate, listCertificates, revokeCertificate, PkiExistsError } from "../../src/pki/index.js";

/** The CA's files must be what openssl expects: an operator inspects and verifies them with it. */
describe("operator CA files", () => {
  let dir: string;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "thor-ca-"));
    await initCa(dir, { commonName: "Example CA", org: "example" });
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it("issues certificates openssl verifies, with subject, addresses and role URIs", async () => {
    const res = await issueCertificate(dir, "node1", { ip: ["10.0.0.1"], dns: ["node1.example.com"], ou: "node", roles: ["sip_proxy", "media_relay"] });
    assert.match(execFileSync("openssl", ["verify", "-CAfile", join(dir, "ca.crt"), res.certPath], { encoding: "utf8" }), /: OK/);
    const text = execFileSync("openssl", ["x509", "-in", res.certPath, "-noout", "-subject", "-ext", "subjectAltName,extendedKeyUsage"], { encoding: "utf8" });
    assert.match(text, /CN = node1, O = example, OU = node/);
    assert.match(text, /IP Address:10\.0\.0\.1/);
    assert.match(text, /DNS:node1\.example\.com/);
    assert.match(text, /URI:urn:thor:role:sip_proxy, URI:urn:thor:role:media_relay/);
    assert.match(text, /TLS Web Server Authentication, TLS Web Client Authentication/);
    assert.equal(statSync(res.keyPath).mode & 0o777, 0o600);
    assert.equal(statSync(join(dir, "ca.key")).mode & 0o777, 0o600);
  });

  it("refuses to issue a second valid certificate of the same name, or to replace the CA, without force", async () => {
    await assert.rejects(issueCertificate(dir, "node1", {}), PkiExistsError);
    await assert.rejects(initCa(dir), PkiExistsError);
  });

  it("revocation lands in a CRL openssl reads and enforces", async () => {
    const victim = await issueCertificate(dir, "node2", { ip: ["10.0.0.2"] });
    await revokeCertificate(dir, "node2");
    const crl = execFileSync("openssl", ["crl", "-in", join(dir, "crl.pem"), "-noout", "-text"], { encoding: "utf8" });
    assert.match(crl, new RegExp(victim.serial.toUpperCase()));
    const check = spawnSync("openssl", ["verify", "-crl_check", "-CRLfile", join(dir, "crl.pem"), "-CAfile", join(dir, "ca.crt"), victim.certPath], { encoding: "utf8" });
    assert.notEqual(check.status, 0);
    assert.match(check.stdout + check.stderr, /certificate revoked/);
    const ok = spawnSync("openssl", ["verify", "-crl_check", "-CRLfile", join(dir, "crl.pem"), "-CAfile", join(dir, "ca.crt"), join(dir, "certs", "node1.crt")], { encoding: "utf8" });
    assert.equal(ok.status, 0, ok.stderr);
    assert.deepEqual(listCertificates(dir).map((c) => `${c.name}:${c.status}`), ["node1:valid", "node2:revoked"]);
  });

  it("rejects bad names", async () => {
    await assert.rejects(issueCertificate(dir, "../evil", {}), /invalid certificate name/);
  });
});
