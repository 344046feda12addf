import { after, afterEach, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { initCa, issueCertificate } from "../../src/pki/index.js";
import { startThor, type ThorProcess } from "../support/processes.js";
import { describeRun, sipp, stopSipp, waitBound } from "../support/sipp.js";
import { tlsClientRelay, tlsServerRelay, type TlsRelay } from "../support/tls-relay.js";
import { testIp, testNetRe } from "../support/slot.js";

/**
 * `thor sip` with only a TLS listener, certificates from our PKI, against
 * real SIPp agents on testIp(40, 0)/24. Debian's SIPp is built without TLS
 * (`-t l1` is missing from its transport list), so each SIPp speaks TCP to a
 * TLS relay next to it (test/support/tls-relay.ts) and its scenarios say
 * TLS in Via and Contact: thor sees TLS user agents, and reaches the callee
 * by opening a TLS connection of its own, verifying the callee's
 * certificate against the CA given with --tls-ca.
 */
const SERVER = testIp(40, 1);
const DOMAIN = "example.test";
const CALLER = testIp(40, 31);
const CALLEE = testIp(40, 21);
const IMPOSTOR = testIp(40, 22);

describe("thor sip over TLS with SIPp", () => {
  let dir: string;
  let server: ThorProcess;
  let ca: string;
  const relays: TlsRelay[] = [];
  const keys = (user: string, extra: Record<string, string> = {}) => ({ user, pass: `${user}-secret`, domain: DOMAIN, ...extra });
  const tlsTemplate = { "[transport]": "TLS" };

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "thor-sip-tls-"));
    const pki = join(dir, "pki");
    const caFiles = await initCa(pki);
    ca = readFileSync(caFiles.certPath, "utf8");
    const proxyCert = await issueCertificate(pki, "sip-proxy", { ip: [SERVER], dns: [DOMAIN], roles: ["sip_proxy"] });
    const users = join(dir, "users.toml");
    writeFileSync(users, ["alice", "bob"].map((u) => `[[users]]\nusername = "${u}"\npassword = "${u}-secret"\n`).join("\n"));
    server = startThor("sip-tls", [
      "sip", "--domain", DOMAIN, "--listen", `tls:${SERVER}:5061`, "--users", users,
      "--tls-cert", proxyCert.certPath, "--tls-key", proxyCert.keyPath, "--tls-ca", caFiles.certPath,
      "--min-expires", "10", "--algorithms", "MD5,SHA-256", "--t1-ms", "50",
    ]);
    await server.waitForLog((l) => l.msg === "SIP server ready", 15_000, "SIP server ready");
    // SIPp (TCP) -> relay -> TLS -> thor, for the caller and for registrations.
    relays.push(await tlsClientRelay({ host: CALLER, port: 6000 }, { host: SERVER, port: 5061, ca }));
    // thor -> TLS -> relay (callee certificate) -> TCP -> SIPp UAS.
    const calleeCert = await issueCertificate(pki, "callee", { ip: [CALLEE], roles: ["sip_client"] });
    relays.push(await tlsServerRelay({ host: CALLEE, port: 5061, cert: readFileSync(calleeCert.certPath, "utf8"), key: readFileSync(calleeCert.keyPath, "utf8") }, { host: CALLEE, port: 5070 }));
    // A callee whose certificate comes from another CA: thor must not talk to it.
    const otherPki = join(dir, "other-pki");
    await initCa(otherPki);
    const impostorCert = await issueCertificate(otherPki, "impostor", { ip: [IMPOSTOR], roles: ["sip_client"] });
    relays.push(await tlsServerRelay({ host: IMPOSTOR, port: 5061, cert: readFileSync(impostorCert.certPath, "utf8"), key: readFileSync(impostorCert.keyPath, "utf8") }, { host: IMPOSTOR, port: 5070 }));
  });

  // A failed test leaves no SIPp bound to its ports.
  afterEach(stopSipp);
  after(async () => {
    await Promise.all(relays.map((r) => r.close()));
    await server?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const toProxy = `${CALLER}:6000`;

  it("registers with digest authentication over TLS, refreshes and unregisters; a wrong password is refused", async () => {
    const before = relays[0]!.connections;
    for (const expires of ["3600", "1800", "0"]) {
      const r = await sipp({ scenario: "register.xml", template: tlsTemplate, localIp: CALLER, localPort: 5061, transport: "t1", remote: toProxy, keys: keys("alice", { contact: `sip:alice@${CALLER}:5061;transport=tls`, expires }) }).done;
      assert.equal(r.code, 0, describeRun(`register alice expires ${expires}`, r));
    }
    const bad = await sipp({ scenario: "register-wrong-password.xml", template: tlsTemplate, localIp: CALLER, localPort: 5062, transport: "t1", remote: toProxy, keys: keys("alice", { contact: `sip:alice@${CALLER}:5061;transport=tls`, pass: "not-the-password" }) }).done;
    assert.equal(bad.code, 0, describeRun("wrong password", bad));
    // The server's log comes through a pipe: wait for the line rather than look once.
    await server.waitForLog((l) => l.msg === "authentication failed" && l["reason"] === "mismatch", 10_000, "authentication failed: mismatch");
    assert.equal(relays[0]!.connections - before, 4, "every REGISTER dialogue went over its own TLS connection");
  });

  it("connects a call between TLS user agents: INVITE/180/200/ACK/BYE, the proxy opening a verified TLS connection to the callee", async () => {
    const reg = await sipp({ scenario: "register.xml", template: tlsTemplate, localIp: CALLER, localPort: 5063, transport: "t1", remote: toProxy, keys: keys("bob", { contact: `sip:bob@${CALLEE}:5061;transport=tls`, expires: "3600" }) }).done;
    assert.equal(reg.code, 0, describeRun("register bob", reg));
    // The callee's Contact names its TLS relay, not SIPp's own TCP socket.
    const uas = sipp({ scenario: "uas.xml", template: { ...tlsTemplate, "[local_ip]:[local_port]": `${CALLEE}:5061` }, localIp: CALLEE, localPort: 5070, transport: "t1" });
    await waitBound("tcp", CALLEE, 5070);
    const calleeRelay = relays[1]!;
    const inbound = calleeRelay.connections;
    const uac = sipp({ scenario: "uac.xml", template: tlsTemplate, localIp: CALLER, localPort: 5080, transport: "t1", remote: toProxy, keys: keys("alice", { callee: "bob" }) });
    const [c, s] = await Promise.all([uac.done, uas.done]);
    assert.equal(c.code, 0, describeRun("caller", c));
    assert.equal(s.code, 0, describeRun("callee", s));
    assert.equal(calleeRelay.connections - inbound, 1, "INVITE, ACK and BYE reached the callee over one TLS connection");
    assert.match(s.messages, new RegExp(String.raw`Record-Route: <sip:ft\.[a-z0-9]+\.[0-9a-z]+\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]{22}@${testNetRe(40)}\.1:5061;transport=tls;lr>`));
  });

  it("does not send a call to a callee whose certificate our CA did not sign: the caller gets 503 at once (the refused connection fails the branch)", async () => {
    const reg = await sipp({ scenario: "register.xml", template: tlsTemplate, localIp: CALLER, localPort: 5064, transport: "t1", remote: toProxy, keys: keys("bob", { contact: `sip:bob@${IMPOSTOR}:5061;transport=tls`, expires: "3600" }) }).done;
    assert.equal(reg.code, 0, describeRun("register bob at the impostor", reg));
    const impostor = relays[2]!;
    const uac = await sipp({ scenario: "uac-fail.xml", template: { ...tlsTemplate, "[final]": "503" }, localIp: CALLER, localPort: 5081, transport: "t1", remote: toProxy, keys: keys("alice", { callee: "bob" }) }).done;
    assert.equal(uac.code, 0, describeRun("caller", uac));
    // thor opened a connection to the impostor, refused its certificate in the handshake, and sent it nothing.
    assert.ok(impostor.attempts >= 1, "a TLS connection was tried");
    assert.equal(impostor.connections, 0, "no handshake completed");
  });
});
