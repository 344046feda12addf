import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { Lab } from "../support/lab.js";
import { runThor } from "../support/processes.js";
import { waitFor } from "../support/wait-for.js";
import { testNet } from "../support/slot.js";

/**
 * `thor check` against a lab network on testIp(143, 0)/24 (3 sip_proxy nodes,
 * thor dns): OK while everything runs, then each failure the issue names,
 * with monitoring-plugins exit codes and one status line with perfdata.
 */
const SUBNET = testNet(143);
const LINE = /^THOR [A-Z]+ (OK|WARNING|CRITICAL|UNKNOWN) - [^|\n]+( \| [^\n]+)?\n$/;

describe("thor check (Nagios/Icinga) against a lab network", () => {
  let lab: Lab;
  let net: string[];
  const check = async (args: string[]) => {
    const r = await runThor(["check", ...args], {}, 60_000);
    assert.match(r.stdout, LINE, `one status line: ${r.stdout}${r.stderr}`);
    return { code: r.code, line: r.stdout.trim() };
  };

  before(async () => {
    lab = await Lab.create({ subnet: SUBNET, dns: 1, nodes: [["sip_proxy"], ["sip_proxy"], ["sip_proxy"]] });
    // A loaded shared machine can take long to start a dozen processes.
    await lab.startAll();
    lab.start("dns1");
    net = ["--ca-dir", lab.plan.caDir, "--event-servers", lab.plan.eventServers.join(","), "--timeout-ms", "15000"];
  });

  after(async () => {
    await lab?.stop();
  });

  it("OK while the network is whole: network, node, dns, database", async () => {
    const network = await check(["network", ...net, "-w", "3:", "-c", "2:"]);
    assert.equal(network.code, 0, network.line);
    assert.match(network.line, /^THOR NETWORK OK - active manager mgr\d .* sip_proxy 3 nodes \| members=3;;;0; .*sip_proxy=3;3:;2:;0;$/);
    const node = await check(["node", `${SUBNET}.101`, "-w", "2", "-c", "5"]);
    assert.equal(node.code, 0, node.line);
    assert.match(node.line, /SIP OPTIONS answered \d{3}.* \| sip_time=[\d.]+s;2;5;0; lookup_time=[\d.]+s;2;5;0;$/);
    const dns = await waitFor(async () => {
      const r = await check(["dns", `${SUBNET}.53:5300`, "--domain", lab.plan.sipDomain, "-c", "3:"]);
      return r.code === 0 ? r : undefined;
    }, { timeoutMs: 30_000, message: "thor dns serves the 3 nodes" });
    assert.match(dns.line, /^THOR DNS OK - _sip\._udp\.example\.com SRV: 3 live nodes/);
    const db = await check(["database", "--dburis", `sqlite://${join(lab.plan.dir, "check.db")}`]);
    assert.equal(db.code, 0, db.line);
  });

  it("a dead node: CRITICAL for the node, then WARNING/CRITICAL for the network and DNS by threshold", async () => {
    await lab.proc("node3").stop("SIGKILL");
    const node = await check(["node", `${SUBNET}.103`, "--timeout-ms", "1500"]);
    assert.equal(node.code, 2, node.line);
    assert.match(node.line, /^THOR NODE CRITICAL - .*no SIP answer.*lookup/);
    await waitFor(() => !lab.memberIds().includes("node3"), { timeoutMs: 30_000, message: "node3 expired" });
    const warn = await check(["network", ...net, "-w", "3:", "-c", "2:"]);
    assert.equal(warn.code, 1, warn.line);
    assert.match(warn.line, /sip_proxy 2 nodes/);
    const crit = await check(["network", ...net, "-c", "3:"]);
    assert.equal(crit.code, 2, crit.line);
    const dns = await waitFor(async () => {
      const r = await check(["dns", `${SUBNET}.53:5300`, "--domain", lab.plan.sipDomain, "-c", "3:"]);
      return r.code === 2 ? r : undefined;
    }, { timeoutMs: 30_000, message: "thor dns hands out fewer nodes" });
    assert.match(dns.line, /SRV: 2 live nodes/);
  });

  it("the primary database down: WARNING while a secondary serves, CRITICAL when none does", async () => {
    const deadPrimary = `postgres://thor:pw@${SUBNET}.9:5432/thor`;
    const warn = await check(["database", "--dburis", `${deadPrimary},sqlite://${join(lab.plan.dir, "check.db")}`, "--timeout-ms", "3000"]);
    assert.equal(warn.code, 1, warn.line);
    assert.match(warn.line, /primary down, a secondary serves reads/);
    assert.doesNotMatch(warn.line, /:pw@/, "the password is not shown");
    const crit = await check(["database", "--dburis", deadPrimary, "--timeout-ms", "3000"]);
    assert.equal(crit.code, 2, crit.line);
  });

  it("no active manager: CRITICAL; a malformed threshold: UNKNOWN", async () => {
    const bad = await check(["network", ...net, "-c", "5:1"]);
    assert.equal(bad.code, 3, bad.line);
    await Promise.all(lab.of("manager").map((m) => lab.proc(m.name).stop("SIGKILL")));
    const r = await check(["network", ...net.slice(0, -1), "3000"]);
    assert.equal(r.code, 2, r.line);
    assert.match(r.line, /^THOR NETWORK CRITICAL - no active manager/);
  });
});
