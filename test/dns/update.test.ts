/**
 * RFC 2136 + TSIG push against a real primary: Knot DNS (`knotd`) on
 * testIp(20, 210), checked with `kdig`.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { silentLogger } from "../../src/base/index.js";
import { Authority, DnsUpdateError, UpdateClient, nameWire, signTsig, type TsigKey } from "../../src/dns/index.js";
import type { Entity } from "../../src/overlay/index.js";
import { waitFor } from "../support/wait-for.js";
import { testIp } from "../support/slot.js";

const HOST = testIp(20, 210);
const PORT = 5301;

function kdig(name: string, type: string): Promise<string[]> {
  return new Promise((resolve, reject) =>
    execFile("kdig", [`@${HOST}`, "-p", String(PORT), "+short", name, type], { timeout: 10_000 }, (err, stdout) => (err ? reject(err) : resolve(stdout.split("\n").filter(Boolean).sort()))),
  );
}

function sip(id: string, ip: string, attrs: Entity["attrs"] = {}): Entity {
  return { id, ip, roles: ["sip_proxy"], version: "t", ports: { sip_udp: 5060, sip_tcp: 5060 }, attrs, startedAt: 1 };
}

describe("pushing the records to an external primary (RFC 2136, TSIG)", () => {
  let dir: string;
  let knot: ChildProcess;
  const key: TsigKey = { name: "thor-key", secret: randomBytes(32) };

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "thor-dns-update-"));
    writeFileSync(join(dir, "example.com.zone"), ["$ORIGIN example.com.", "@ 300 IN SOA ns1.example.com. hostmaster.example.com. 1 3600 600 86400 10", "@ 300 IN NS ns1.example.com.", "ns1 300 IN A 192.0.2.53", ""].join("\n"));
    writeFileSync(
      join(dir, "knot.conf"),
      [
        "server:",
        `    rundir: "${dir}"`,
        `    listen: ${HOST}@${PORT}`,
        "control:",
        `    listen: "${dir}/knot.sock"`,
        "log:",
        "  - target: stderr",
        "    any: warning",
        "database:",
        `    storage: "${dir}"`,
        "key:",
        `  - id: ${key.name}`,
        "    algorithm: hmac-sha256",
        `    secret: ${key.secret.toString("base64")}`,
        "acl:",
        "  - id: thor-update",
        `    key: ${key.name}`,
        "    action: update",
        "zone:",
        "  - domain: example.com",
        `    file: "${join(dir, "example.com.zone")}"`,
        `    storage: "${dir}"`,
        "    acl: thor-update",
        "    zonefile-sync: -1",
        "",
      ].join("\n"),
    );
    knot = spawn("knotd", ["-c", join(dir, "knot.conf")], { stdio: ["ignore", "ignore", "pipe"] });
    await waitFor(async () => (await kdig("example.com", "SOA").catch(() => [])).length === 1, { timeoutMs: 10_000, message: "knotd up" });
  });

  after(async () => {
    knot?.kill("SIGKILL");
    rmSync(dir, { recursive: true, force: true });
  });

  test("the live records reach the primary; changes replace them; SOA, NS and glue stay the primary's", async () => {
    const authority = new Authority([{ origin: "example.com", nameservers: [{ name: "ns1.example.com", ip: "192.0.2.99" }], eventServers: [{ host: "192.0.2.1", port: 8000 }] }], 1);
    const client = new UpdateClient({ primary: { host: HOST, port: PORT }, key, logger: silentLogger });
    authority.apply([sip("node1", "192.0.2.101"), sip("node2", "192.0.2.102"), sip("node3", "2001:db8::3")], 10);
    await client.push(authority.zones()[0]!);
    assert.deepEqual(await kdig("_sip._udp.example.com", "SRV"), ["10 10 5060 node1.example.com.", "10 10 5060 node2.example.com.", "10 10 5060 node3.example.com."]);
    assert.deepEqual(await kdig("example.com", "NAPTR"), ['10 10 "s" "SIP+D2U" "" _sip._udp.example.com.', '10 20 "s" "SIP+D2T" "" _sip._tcp.example.com.']);
    assert.deepEqual(await kdig("node3.example.com", "AAAA"), ["2001:db8::3"]);
    assert.deepEqual(await kdig("_eventserver._tcp.example.com", "SRV"), ["10 10 8000 eventserver1.example.com."]);
    assert.deepEqual(await kdig("ns1.example.com", "A"), ["192.0.2.53"], "the primary's glue is left alone");

    // node2 dies, node3 is drained: they leave the primary's answers too.
    authority.apply([sip("node1", "192.0.2.101"), sip("node3", "2001:db8::3", { draining: true })], 20);
    await client.push(authority.zones()[0]!);
    assert.deepEqual(await kdig("_sip._udp.example.com", "SRV"), ["10 10 5060 node1.example.com."]);
    assert.deepEqual(await kdig("node2.example.com", "A"), []);
    assert.deepEqual(await kdig("node3.example.com", "AAAA"), []);
    const soa = (await kdig("example.com", "SOA"))[0]!;
    assert.match(soa, /^ns1\.example\.com\. hostmaster\.example\.com\. \d+/);
    client.close();
  });

  test("an update signed with the wrong key is refused (NOTAUTH) and reported as a DnsUpdateError", async () => {
    const authority = new Authority([{ origin: "example.com", nameservers: [{ name: "ns1.example.com" }] }], 1);
    authority.apply([sip("node9", "192.0.2.109")], 10);
    const client = new UpdateClient({ primary: { host: HOST, port: PORT }, key: { name: key.name, secret: randomBytes(32) }, logger: silentLogger, retryMs: 60_000 });
    await assert.rejects(client.push(authority.zones()[0]!), (err: unknown) => err instanceof DnsUpdateError && /NOTAUTH|does not verify/.test(err.message));
    client.close();
    assert.deepEqual(await kdig("node9.example.com", "A"), []);
  });

  test("an unreachable primary is a DnsUpdateError, not a crash", async () => {
    const authority = new Authority([{ origin: "example.com", nameservers: [{ name: "ns1.example.com" }] }], 1);
    authority.apply([sip("node1", "192.0.2.101")], 10);
    const client = new UpdateClient({ primary: { host: HOST, port: 1 }, key, logger: silentLogger, retryMs: 60_000, timeoutMs: 2000 });
    await assert.rejects(client.push(authority.zones()[0]!), DnsUpdateError);
    client.close();
  });

  test("TSIG: names are signed in canonical lowercase wire form; the MAC is HMAC-SHA256", () => {
    assert.deepEqual(nameWire("Thor-Key."), Buffer.from([8, ...Buffer.from("thor-key"), 0]));
    const msg = Buffer.alloc(12);
    const { signed, mac } = signTsig(msg, key, 1_700_000_000);
    assert.equal(mac.length, 32);
    assert.equal(signed.readUInt16BE(10), 1, "ARCOUNT counts the TSIG record");
  });
});
