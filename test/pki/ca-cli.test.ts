import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runThor } from "../support/processes.js";

/** `thor ca ...` as an operator runs it: human-readable output, errors with codes and exit 1. */
describe("thor ca", () => {
  let root: string;
  let dir: string;
  before(() => {
    root = mkdtempSync(join(tmpdir(), "thor-ca-cli-"));
    dir = join(root, "ca");
  });
  after(() => rmSync(root, { recursive: true, force: true }));

  it("init creates the CA and says where", async () => {
    const res = await runThor(["ca", "init", "--dir", dir, "--org", "example"]);
    assert.equal(res.code, 0, res.stderr);
    assert.match(res.stdout, new RegExp(`CA created: ${join(dir, "ca.crt")}`));
    assert.match(res.stdout, /key: .*ca\.key \(mode 0600/);
    const again = await runThor(["ca", "init", "--dir", dir]);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /THOR_PKI_EXISTS: a CA already exists/);
  });

  it("issue takes several addresses and names, roles, and the directory from THOR_CA_DIR", async () => {
    const res = await runThor(["ca", "issue", "node1", "--ip", "10.0.0.1", "10.0.0.2,10.0.0.3", "--dns", "node1.example.com", "--ou", "node", "--roles", "sip_proxy,media_relay", "--days", "30"], { THOR_CA_DIR: dir });
    assert.equal(res.code, 0, res.stderr);
    const serial = /issued node1 \(serial ([0-9a-f]{32})\)/.exec(res.stdout)?.[1];
    assert.ok(serial, res.stdout);
    assert.match(res.stdout, /certificate: .*certs\/node1\.crt/);
    const text = execFileSync("openssl", ["x509", "-in", join(dir, "certs", "node1.crt"), "-noout", "-subject", "-serial", "-ext", "subjectAltName"], { encoding: "utf8" });
    assert.match(text, /CN = node1, O = example, OU = node/);
    assert.match(text, /IP Address:10\.0\.0\.1, IP Address:10\.0\.0\.2, IP Address:10\.0\.0\.3, DNS:node1\.example\.com, URI:urn:thor:role:sip_proxy, URI:urn:thor:role:media_relay/);
    assert.match(text, new RegExp(`serial=${serial.toUpperCase()}`));
  });

  it("issue refuses bad input with the reason", async () => {
    const dup = await runThor(["ca", "issue", "node1", "--dir", dir]);
    assert.equal(dup.code, 1);
    assert.match(dup.stderr, /THOR_PKI_EXISTS/);
    const ip = await runThor(["ca", "issue", "node2", "--dir", dir, "--ip", "10.0.0"]);
    assert.equal(ip.code, 1);
    assert.match(ip.stderr, /THOR_PKI_INVALID: invalid IP address "10\.0\.0"/);
    const days = await runThor(["ca", "issue", "node2", "--dir", dir, "--days", "soon"]);
    assert.notEqual(days.code, 0);
    assert.match(days.stderr, /--days <n>' argument 'soon' is invalid/);
    const nodir = await runThor(["ca", "list", "--dir", join(root, "nowhere")]);
    assert.equal(nodir.code, 1);
    assert.match(nodir.stderr, /THOR_PKI_NOT_FOUND: no CA in/);
  });

  it("revoke, crl and list", async () => {
    assert.equal((await runThor(["ca", "issue", "node2", "--dir", dir, "--force"])).code, 0);
    const revoked = await runThor(["ca", "revoke", "node2", "--dir", dir]);
    assert.equal(revoked.code, 0, revoked.stderr);
    assert.match(revoked.stdout, /revoked node2: serial [0-9a-f]{32}\nCRL rewritten: /);
    const crl = await runThor(["ca", "crl", "--dir", dir]);
    assert.equal(crl.code, 0);
    assert.match(crl.stdout, /CRL written: .*crl\.pem/);
    const list = await runThor(["ca", "list", "--dir", dir]);
    assert.equal(list.code, 0);
    assert.match(list.stdout, /^CRL: 1 revoked, next update \d{4}-\d\d-\d\d/);
    assert.match(list.stdout, /^valid +node1 +CN=node1,O=example,OU=node +10\.0\.0\.1,10\.0\.0\.2,10\.0\.0\.3 +until \d{4}-\d\d-\d\d +serial [0-9a-f]{32}$/m);
    assert.match(list.stdout, /^revoked +node2 +CN=node2/m);
    const json = JSON.parse((await runThor(["ca", "list", "--json"], { THOR_CA_DIR: dir })).stdout) as Array<{ name: string; status: string; roles: string[] }>;
    assert.deepEqual(json.map((c) => `${c.name}:${c.status}:${c.roles.join("+")}`), ["node1:valid:sip_proxy+media_relay", "node2:revoked:*"]);
  });
});
