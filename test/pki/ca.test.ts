import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  initCa,
  issueCertificate,
  listCertificates,
  readIndex,
  readCrlInfo,
  revokeCertificate,
  writeCrl,
  PkiError,
  PkiExistsError,
  PkiInvalidError,
  PkiNotFoundError,
} from "../../src/pki/index.js";
import { waitFor } from "../support/wait-for.js";

const openssl = (...args: string[]) => execFileSync("openssl", args, { encoding: "utf8" });
const opensslStatus = (...args: string[]) => spawnSync("openssl", args, { encoding: "utf8" });
const mode = (path: string) => statSync(path).mode & 0o777;

/** The CA's files must be what openssl expects: an operator inspects and verifies them with it. */
describe("operator CA files", () => {
  let dir: string;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "thor-ca-"));
    await initCa(dir, { commonName: "Example CA", org: "example" });
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it("creates a self-signed CA (CA:TRUE critical, keyCertSign + cRLSign, subject key id), its key 0600 and an empty CRL", () => {
    const text = openssl("x509", "-in", join(dir, "ca.crt"), "-noout", "-text");
    assert.match(text, /Subject: CN = Example CA, O = example/);
    assert.match(text, /Issuer: CN = Example CA, O = example/);
    assert.match(text, /ASN1 OID: prime256v1/);
    assert.match(text, /Signature Algorithm: ecdsa-with-SHA256/);
    assert.match(text, /X509v3 Basic Constraints: critical\s+CA:TRUE/);
    assert.match(text, /X509v3 Key Usage: critical\s+Certificate Sign, CRL Sign/);
    assert.match(text, /X509v3 Subject Key Identifier/);
    assert.match(opensslStatus("verify", "-CAfile", join(dir, "ca.crt"), join(dir, "ca.crt")).stdout, /: OK/);
    assert.equal(mode(join(dir, "ca.key")), 0o600);
    assert.match(readFileSync(join(dir, "ca.key"), "utf8"), /^-----BEGIN PRIVATE KEY-----/);
    const crl = opensslStatus("crl", "-in", join(dir, "crl.pem"), "-CAfile", join(dir, "ca.crt"), "-noout", "-text");
    assert.equal(crl.status, 0, crl.stderr);
    assert.match(crl.stdout + crl.stderr, /verify OK/);
    assert.match(crl.stdout, /No Revoked Certificates/);
    assert.deepEqual(readIndex(dir), []);
  });

  it("issues certificates openssl verifies, with subject, addresses, role URIs, usages and a 16-byte serial", async () => {
    const res = await issueCertificate(dir, "node1", { ip: ["10.0.0.1", "fd00::1"], dns: ["node1.example.com"], ou: "node", roles: ["sip_proxy", "media_relay"] });
    assert.match(openssl("verify", "-CAfile", join(dir, "ca.crt"), res.certPath), /: OK/);
    const text = openssl("x509", "-in", res.certPath, "-noout", "-subject", "-serial", "-ext", "subjectAltName,extendedKeyUsage,keyUsage,basicConstraints");
    assert.match(text, /subject=CN = node1, O = example, OU = node/);
    assert.match(text, /IP Address:10\.0\.0\.1, IP Address:FD00:0:0:0:0:0:0:1/i);
    assert.match(text, /DNS:node1\.example\.com/);
    assert.match(text, /URI:urn:thor:role:sip_proxy, URI:urn:thor:role:media_relay/);
    assert.match(text, /TLS Web Server Authentication, TLS Web Client Authentication/);
    assert.match(text, /Digital Signature, Key Agreement/);
    assert.match(text, /CA:FALSE/);
    assert.match(res.serial, /^[1-7][0-9a-f]{31}$/);
    assert.match(text, new RegExp(`serial=${res.serial.toUpperCase()}`));
    assert.equal(res.certPath, join(dir, "certs", "node1.crt"));
    assert.equal(res.keyPath, join(dir, "certs", "node1.key"));
    assert.equal(mode(res.keyPath), 0o600);
    const [entry] = readIndex(dir);
    assert.ok(entry);
    assert.equal(entry.name, "node1");
    assert.equal(entry.serial, res.serial);
    assert.equal(entry.subject, "CN=node1,O=example,OU=node");
    assert.deepEqual(entry.ip, ["10.0.0.1", "fd00::1"]);
    assert.deepEqual(entry.roles, ["sip_proxy", "media_relay"]);
    assert.equal(entry.revokedAt, undefined);
    assert.ok(Date.parse(entry.notAfter) > Date.now() + 824 * 86_400_000);
  });

  it("defaults: O of the CA, OU node, any role", async () => {
    const res = await issueCertificate(dir, "plain");
    const text = openssl("x509", "-in", res.certPath, "-noout", "-subject", "-ext", "subjectAltName");
    assert.match(text, /CN = plain, O = example, OU = node/);
    assert.match(text, /URI:urn:thor:role:\*/);
  });

  it("refuses a second unrevoked certificate of the same name, or a new CA, unless forced", async () => {
    await assert.rejects(issueCertificate(dir, "node1", {}), (err: unknown) => err instanceof PkiExistsError && err instanceof PkiError && err.code === "THOR_PKI_EXISTS");
    await assert.rejects(initCa(dir), (err: unknown) => err instanceof PkiExistsError && /already exists/.test((err as Error).message));
    const again = await issueCertificate(dir, "plain", { force: true });
    assert.equal(readIndex(dir).filter((e) => e.name === "plain").length, 2);
    assert.match(openssl("x509", "-in", again.certPath, "-noout", "-serial"), new RegExp(again.serial.toUpperCase()));
  });

  it("revocation lands in a CRL openssl reads and enforces", async () => {
    const victim = await issueCertificate(dir, "node2", { ip: ["10.0.0.2"] });
    assert.deepEqual(await revokeCertificate(dir, "node2"), [victim.serial]);
    const crl = openssl("crl", "-in", join(dir, "crl.pem"), "-noout", "-text");
    assert.match(crl, new RegExp(`Serial Number: ${victim.serial.toUpperCase()}`));
    assert.match(crl, /Key Compromise/);
    assert.match(crl, /Next Update: /);
    const check = opensslStatus("verify", "-crl_check", "-CRLfile", join(dir, "crl.pem"), "-CAfile", join(dir, "ca.crt"), victim.certPath);
    assert.notEqual(check.status, 0);
    assert.match(check.stdout + check.stderr, /certificate revoked/);
    const ok = opensslStatus("verify", "-crl_check", "-CRLfile", join(dir, "crl.pem"), "-CAfile", join(dir, "ca.crt"), join(dir, "certs", "node1.crt"));
    assert.equal(ok.status, 0, ok.stderr);
    const entry = readIndex(dir).find((e) => e.name === "node2");
    assert.ok(entry?.revokedAt);
    await assert.rejects(revokeCertificate(dir, "node2"), PkiNotFoundError);
    await assert.rejects(revokeCertificate(dir, "nobody"), (err: unknown) => err instanceof PkiNotFoundError && err.code === "THOR_PKI_NOT_FOUND");
    // a revoked name may be issued again
    await issueCertificate(dir, "node2", { ip: ["10.0.0.2"] });
  });

  it("re-signing the CRL keeps every revoked serial", async () => {
    const before = readIndex(dir).filter((e) => e.revokedAt).map((e) => e.serial.toUpperCase());
    await writeCrl(dir);
    const crl = openssl("crl", "-in", join(dir, "crl.pem"), "-noout", "-text");
    for (const s of before) assert.match(crl, new RegExp(s));
    const info = readCrlInfo(dir);
    assert.deepEqual(info.serials.sort(), before.map((s) => s.toLowerCase()).sort());
    assert.ok((info.nextUpdate?.getTime() ?? 0) > Date.now() + 29 * 86_400_000);
  });

  it("lists certificates as valid, revoked or expired", async () => {
    const short = await issueCertificate(dir, "shortlived", { days: 1 / 86_400 });
    const notAfter = Date.parse(readIndex(dir).find((e) => e.serial === short.serial)?.notAfter ?? "");
    await waitFor(() => Date.now() > notAfter, { timeoutMs: 5_000, message: "certificate expiry" });
    assert.deepEqual(
      listCertificates(dir).map((c) => `${c.name}:${c.status}`),
      ["node1:valid", "plain:valid", "plain:valid", "node2:revoked", "node2:valid", "shortlived:expired"],
    );
    // an expired name may be issued again without force
    await issueCertificate(dir, "shortlived");
  });

  it("rejects bad names, addresses, roles and validity with PkiInvalidError", async () => {
    const bad: Array<[string, Parameters<typeof issueCertificate>[2]]> = [
      ["../evil", {}],
      [".hidden", {}],
      ["a".repeat(65), {}],
      ["ok1", { ip: ["10.0.0"] }],
      ["ok2", { dns: ["bad name"] }],
      ["ok3", { roles: ["Sip Proxy"] }],
      ["ok4", { roles: [] }],
      ["ok5", { days: 0 }],
      ["ok6", { days: Number.NaN }],
      ["ok7", { ou: "" }],
    ];
    for (const [name, opts] of bad) {
      await assert.rejects(issueCertificate(dir, name, opts), (err: unknown) => err instanceof PkiInvalidError && err.code === "THOR_PKI_INVALID", `${name} ${JSON.stringify(opts)}`);
    }
    assert.ok(!readIndex(dir).some((e) => e.name.startsWith("ok")));
  });

  it("reports a missing CA and a corrupt index clearly", async () => {
    const empty = mkdtempSync(join(tmpdir(), "thor-ca-empty-"));
    try {
      await assert.rejects(issueCertificate(empty, "x"), (err: unknown) => err instanceof PkiNotFoundError && /thor ca init/.test((err as Error).message));
      assert.throws(() => listCertificates(empty), PkiNotFoundError);
      await assert.rejects(writeCrl(empty), PkiNotFoundError);
      await initCa(empty);
      writeFileSync(join(empty, "index.json"), '[{"name": 1}]');
      assert.throws(() => listCertificates(empty), (err: unknown) => err instanceof PkiInvalidError && /index\.json is corrupt/.test((err as Error).message));
      writeFileSync(join(empty, "index.json"), "{");
      await assert.rejects(issueCertificate(empty, "x"), PkiInvalidError);
    } finally {
      rmSync(empty, { recursive: true, force: true });
    }
  });
});
