/**
 * RFC 3263 clients against the platform: two baresip phones configured with
 * nothing but their account on `example.com` and `thor dns` as their DNS
 * server register and call each other through real `thor node` processes
 * running the sip_proxy role (testNet(21).x).
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { Baresip } from "../support/baresip-console.js";
import { FORMATION_MS, Lab } from "../support/lab.js";
import { stopAllProcesses } from "../support/processes.js";
import { waitFor } from "../support/wait-for.js";
import { DEMO_ACCOUNTS } from "../../src/cli/lab.js";
import { testNet } from "../support/slot.js";

const SUBNET = testNet(21);
const DNS = `${SUBNET}.53`;
const PORT = 5300;

function dig(name: string, type: string): Promise<string[]> {
  return new Promise((resolve, reject) =>
    execFile("dig", [`@${DNS}`, "-p", String(PORT), "+short", "+norecurse", name, type], { timeout: 10_000 }, (err, stdout) => (err ? reject(err) : resolve(stdout.split("\n").filter(Boolean)))),
  );
}

describe("RFC 3263 clients through thor dns", { timeout: 150_000 }, () => {
  let lab: Lab;
  const phones: Baresip[] = [];

  before(async () => {
    lab = await Lab.create({ subnet: SUBNET, nodes: [["sip_proxy"], ["sip_proxy"], ["media_relay"]], dns: 1 });
    for (const kind of ["eventserver", "manager", "database"] as const) for (const m of lab.of(kind)) lab.start(m.name);
    // baresip 1.0 (libre) gives up (ENOSYS) on a 401 that also offers a SHA-256 challenge: MD5 only here.
    for (const m of lab.of("node")) lab.start(m.name, ["--algorithms", "MD5"]);
    await lab.observe();
    await waitFor(() => lab.memberIds().length === 3, { timeoutMs: FORMATION_MS, message: "3 nodes in the snapshot" });
    lab.start("dns1");
    await lab.proc("dns1").waitForLog((l) => l.msg === "zones updated" && l["members"] === 3, 20_000, "dns1 zones with 3 members");
  });

  after(async () => {
    await Promise.all(phones.map((p) => p.stop()));
    await lab?.stop();
    await stopAllProcesses();
  });

  test("the domain resolves to the sip_proxy nodes only", async () => {
    const naptr = await dig("example.com", "NAPTR");
    assert.deepEqual(naptr.map((l) => l.split(" ")[3]).sort(), ['"SIP+D2T"', '"SIP+D2U"']);
    const srv = await dig("_sip._udp.example.com", "SRV");
    assert.deepEqual(srv.map((l) => l.split(" ")[3]).sort(), ["node1.example.com.", "node2.example.com."]);
  });

  test("baresip given only the domain registers and calls through the platform", async () => {
    const account = (name: string) => DEMO_ACCOUNTS.find((a) => a.username === name)!;
    const alice = new Baresip({ dir: lab.plan.dir, ip: `${SUBNET}.201`, sipPort: 5080, consolePort: 5555, dnsServer: `${DNS}:${PORT}`, user: "alice", domain: "example.com", password: account("alice").password });
    const bob = new Baresip({ dir: lab.plan.dir, ip: `${SUBNET}.202`, sipPort: 5080, consolePort: 5555, dnsServer: `${DNS}:${PORT}`, user: "bob", domain: "example.com", password: account("bob").password });
    phones.push(alice, bob);
    // baresip 1.0's own lines, whole: the registration answered by our proxy with one binding, ...
    await alice.waitFor(/^alice@example\.com: \{0\/(UDP|TCP)\/v4\} 200 OK \(sipthor\/[^)]+\) \[1 binding\]$/m, 20_000, "registered");
    await bob.waitFor(/^bob@example\.com: \{0\/(UDP|TCP)\/v4\} 200 OK \(sipthor\/[^)]+\) \[1 binding\]$/m, 20_000, "registered");
    await alice.command("/dial sip:bob@example.com");
    // ... the call answered by bob, established on both sides with the right peer, ...
    await bob.waitFor(/^call: answering call on line \d+ from sip:alice@example\.com with 200$/m, 20_000, "call answered");
    await bob.waitFor(/^bob@example\.com: Call established: sip:alice@example\.com$/m, 20_000, "call established at bob");
    await alice.waitFor(/^alice@example\.com: Call established: sip:bob@example\.com(;transport=(udp|tcp))?$/m, 20_000, "call established at alice");
    await alice.command("/hangup");
    // ... and alice's BYE closing bob's session (libre reports a BYE received as ECONNRESET).
    await bob.waitFor(/^sip:alice@example\.com: session closed: Connection reset by peer$/m, 15_000, "bob sees the BYE");
  });
});
