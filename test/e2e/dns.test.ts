/**
 * `thor dns` against a real network of processes on testNet(20).x, queried with
 * the real `dig` and `kdig`: RFC 3263 resolution, agreement between two
 * instances, bootstrap through `_eventserver._tcp`, fairness of the random
 * slice, drain, and a SIGKILLed node leaving the answers.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import dgram from "node:dgram";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { FORMATION_MS, Lab } from "../support/lab.js";
import { runThor, stopAllProcesses } from "../support/processes.js";
import { startSipNode, type SipNodeProcess } from "../support/sip-node.js";
import { waitFor } from "../support/wait-for.js";
import { slotPort, testNet } from "../support/slot.js";

const SUBNET = testNet(20);
const DNS1 = `${SUBNET}.53`;
const DNS2 = `${SUBNET}.54`;
const PORT = 5300;
/** On ::1, shared by every run slot: a port of this slot's own. */
const V6_PORT = slotPort(15_353);

function run(cmd: string, args: string[], timeoutMs = 20_000): Promise<string> {
  return new Promise((resolve, reject) =>
    execFile(cmd, args, { timeout: timeoutMs, maxBuffer: 16 << 20 }, (err, stdout, stderr) => (err ? reject(new Error(`${cmd} ${args.join(" ")}: ${err.message} ${stderr}`)) : resolve(stdout))),
  );
}

/** `dig +short` lines for one question. */
async function dig(name: string, type: string, server = DNS1, extra: string[] = []): Promise<string[]> {
  const out = await run("dig", [`@${server}`, "-p", String(PORT), "+short", "+norecurse", "+time=2", "+tries=2", ...extra, name, type]);
  return out.split("\n").map((l) => l.trim()).filter(Boolean);
}

interface Resolved {
  transport: string;
  target: string;
  port: number;
  ip: string;
}

/** RFC 3263 the long way: NAPTR at the domain, SRV at each replacement, A at each target. */
async function resolveSip(server: string): Promise<Resolved[]> {
  const out: Resolved[] = [];
  for (const line of await dig("example.com", "NAPTR", server)) {
    const m = /^(\d+) (\d+) "s" "([^"]+)" "" (\S+)\.$/.exec(line);
    assert.ok(m, `NAPTR line ${line}`);
    const srv = new Set<string>();
    // Three proxies, slices of three: one answer holds them all, twice is for safety.
    for (let i = 0; i < 2; i++) for (const l of await dig(m[4]!, "SRV", server)) srv.add(l);
    for (const s of srv) {
      const [, , port, target] = s.split(" ");
      for (const ip of await dig(target!, "A", server)) out.push({ transport: m[3]!, target: target!.replace(/\.$/, ""), port: Number(port), ip });
    }
  }
  return out.sort((a, b) => `${a.transport}${a.ip}`.localeCompare(`${b.transport}${b.ip}`));
}

describe("thor dns on a live network", { timeout: 150_000 }, () => {
  let lab: Lab;
  const sipNodes = new Map<string, SipNodeProcess>();
  const proxyPorts: Record<string, Record<string, number>> = {
    node1: { sip_udp: 5060, sip_tcp: 5060 },
    node2: { sip_udp: 5060, sip_tcp: 5060, sip_tls: 5061 },
    node3: { sip_udp: 5070, sip_tcp: 5070, sip_ws: 8080 },
  };

  before(async () => {
    lab = await Lab.create({ subnet: SUBNET, nodes: [["sip_proxy"], ["sip_proxy"], ["sip_proxy"], ["media_relay"], ["sip_proxy"]], dns: 2, dnsPort: PORT });
    for (const m of lab.of("eventserver")) lab.start(m.name);
    for (const m of lab.of("manager")) lab.start(m.name);
    for (const [name, ports] of Object.entries(proxyPorts)) sipNodes.set(name, startSipNode(name, lab.member(name).ip, lab.plan.caDir, lab.plan.eventServers, ports));
    lab.start("node4");
    // Rate limiting off: the fairness test below sends 600 queries from one /24 (it measures the slice, not RRL).
    lab.start("dns1", ["--listen", `${DNS1},[::1]:${V6_PORT}`, "--rate-limit", "0"]);
    lab.start("dns2");
    await lab.observe();
    await waitFor(() => lab.memberIds().length === 4, { timeoutMs: FORMATION_MS, message: "4 members in the snapshot" });
    for (const d of ["dns1", "dns2"]) await lab.proc(d).waitForLog((l) => l.msg === "zones updated" && l["members"] === 4, 15_000, `${d} zones with 4 members`);
  });

  after(async () => {
    await Promise.all([...sipNodes.values()].map((n) => n.stop("SIGKILL")));
    await lab?.stop();
    await stopAllProcesses();
  });

  test("NAPTR → SRV → A gives exactly the live sip_proxy members and their advertised ports", async () => {
    const resolved = await resolveSip(DNS1);
    const ips = (t: string) => resolved.filter((r) => r.transport === t).map((r) => `${r.ip}:${r.port}`).sort();
    assert.deepEqual(ips("SIP+D2U"), [`${SUBNET}.101:5060`, `${SUBNET}.102:5060`, `${SUBNET}.103:5070`]);
    assert.deepEqual(ips("SIP+D2T"), [`${SUBNET}.101:5060`, `${SUBNET}.102:5060`, `${SUBNET}.103:5070`]);
    assert.deepEqual(ips("SIPS+D2T"), [`${SUBNET}.102:5061`]);
    assert.deepEqual(ips("SIP+D2W"), [`${SUBNET}.103:8080`]);
    assert.ok(!resolved.some((r) => r.ip === lab.member("node4").ip), "the media relay is not a SIP target");
  });

  test("a second instance, queried over TCP with kdig, publishes the same records", async () => {
    const a = await resolveSip(DNS1);
    const b = await resolveSip(DNS2);
    assert.deepEqual(b, a);
    const tcp = await run("kdig", [`@${DNS2}`, "-p", String(PORT), "+tcp", "+short", "_sip._tcp.example.com", "SRV"]);
    assert.equal(tcp.trim().split("\n").length, 3);
  });

  test("authoritative answers: AA set, NXDOMAIN with SOA, REFUSED for other zones, over IPv6 too", async () => {
    const full = await run("dig", [`@${DNS1}`, "-p", String(PORT), "+norecurse", "nothing.example.com", "A"]);
    assert.match(full, /status: NXDOMAIN/);
    assert.match(full, /flags: qr aa/);
    assert.match(full, /AUTHORITY SECTION:\nexample\.com\.\s+\d+\s+IN\s+SOA/);
    assert.match(await run("dig", [`@${DNS1}`, "-p", String(PORT), "example.org", "A"]), /status: REFUSED/);
    const v6 = await run("dig", ["@::1", "-p", String(V6_PORT), "+short", "+tcp", "node1.example.com", "A"]);
    assert.equal(v6.trim(), `${SUBNET}.101`);
    assert.equal((await run("dig", ["@::1", "-p", String(V6_PORT), "+short", "node1.example.com", "A"])).trim(), `${SUBNET}.101`);
  });

  test("bootstrap: a member given only the domain finds the event servers through thor dns", async () => {
    const mon = lab.member("monitor");
    const r = await runThor(["monitor", "--once", "--json", "--name", "monitor", "--ca-dir", lab.plan.caDir, "--cert", mon.cert, "--key", mon.key, "--domain", "example.com", "--dns-servers", `${DNS1}:${PORT}`, "--timeout-ms", "15000"]);
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout) as { snapshot: { members: unknown[] } };
    assert.equal(out.snapshot.members.length, 4);
  });

  test("the random slice is fair over many queries (first position, chi-square)", async () => {
    const N = 600;
    const batch = join(lab.plan.dir, "dig-batch.txt");
    writeFileSync(batch, Array.from({ length: N }, () => `@${DNS1} -p ${PORT} +short +norecurse _sip._udp.example.com SRV`).join("\n") + "\n");
    const lines = (await run("dig", ["-f", batch], 60_000)).split("\n").filter(Boolean);
    assert.equal(lines.length, N * 3);
    const first = new Map<string, number>();
    for (let i = 0; i < lines.length; i += 3) {
      const target = lines[i]!.split(" ")[3]!;
      first.set(target, (first.get(target) ?? 0) + 1);
    }
    assert.equal(first.size, 3);
    const expected = N / 3;
    const chi2 = [...first.values()].reduce((s, o) => s + (o - expected) ** 2 / expected, 0);
    // Critical value for 2 degrees of freedom at p = 0.001.
    assert.ok(chi2 < 13.8, `first-position counts ${JSON.stringify([...first])}, chi2 ${chi2.toFixed(1)}`);
  });

  test("a drained node stops being handed out while it is still a member", async () => {
    const node3 = sipNodes.get("node3")!;
    node3.child.kill("SIGUSR2");
    await waitFor(async () => !(await dig("_sip._udp.example.com", "SRV")).some((l) => l.includes("node3")), { timeoutMs: 10_000, message: "node3 out of the SRV answers" });
    assert.ok(lab.view.snapshot?.members.some((m) => m.id === "node3" && m.attrs["draining"] === true), "node3 still in the membership, draining");
    assert.deepEqual(await dig("node3.example.com", "A"), []);
    // Both instances saw this change: the serial is the manager's time of the snapshot that brought it.
    await waitFor(async () => {
      const soa1 = (await dig("example.com", "SOA", DNS1))[0]!.split(" ")[2];
      const soa2 = (await dig("example.com", "SOA", DNS2))[0]!.split(" ")[2];
      return soa1 === soa2;
    }, { timeoutMs: 5000, message: "same SOA serial on both instances" });
    node3.child.kill("SIGUSR2");
    await waitFor(async () => (await dig("_sip._udp.example.com", "SRV")).some((l) => l.includes("node3")), { timeoutMs: 10_000, message: "node3 back after the drain" });
  });

  /** The managers' log lines `member <kind>` (joined, left, expired) about `id`. */
  const memberEvents = (id: string, kind: "left" | "expired"): number =>
    lab.of("manager").reduce((n, m) => n + lab.proc(m.name).logs.filter((l) => l.msg === `member ${kind}` && l["member"] === id).length, 0);

  test("a node that leaves gracefully (SIGTERM, Thor.Leave) is removed by its leave, not by the expiry", async (t) => {
    const node5 = startSipNode("node5", lab.member("node5").ip, lab.plan.caDir, lab.plan.eventServers, { sip_udp: 5060 });
    sipNodes.set("node5", node5);
    await waitFor(async () => (await dig("node5.example.com", "A")).length === 1, { timeoutMs: 15_000, message: "node5 published" });
    const started = Date.now();
    await node5.stop("SIGTERM");
    await waitFor(async () => (await dig("node5.example.com", "A")).length === 0, { timeoutMs: 10_000, intervalMs: 50, message: "node5 gone" });
    t.diagnostic(`node5 left the DNS answers ${Date.now() - started} ms after SIGTERM`);
    // The active manager removed it on its Thor.Leave (the fast lab expires a silent member after 2 s; a
    // removal by expiry would mean the leave was lost).
    await waitFor(() => memberEvents("node5", "left") >= 1, { timeoutMs: 5000, message: "a manager logged: member left node5" });
    assert.equal(memberEvents("node5", "expired"), 0, "node5 was not expired");
  });

  test("a SIGKILLed node disappears from the answers once the managers expire it", async (t) => {
    const started = Date.now();
    await sipNodes.get("node2")!.stop("SIGKILL");
    // Member timeout 2000 ms in the fast lab: the deadline is generous, the assertion is the expiry itself.
    await waitFor(async () => {
      const [a, b] = await Promise.all([dig("_sip._udp.example.com", "SRV", DNS1), dig("_sip._udp.example.com", "SRV", DNS2)]);
      return ![...a, ...b].some((l) => l.includes("node2"));
    }, { timeoutMs: 20_000, intervalMs: 100, message: "node2 gone from both instances" });
    t.diagnostic(`node2 left the DNS answers ${Date.now() - started} ms after SIGKILL (member timeout 2000 ms in the fast lab)`);
    await waitFor(() => memberEvents("node2", "expired") >= 1, { timeoutMs: 5000, message: "a manager logged: member expired node2" });
    assert.equal(memberEvents("node2", "left"), 0, "a killed node sends no leave");
    assert.deepEqual((await dig("example.com", "NAPTR")).map((l) => l.split(" ")[3]).sort(), ['"SIP+D2T"', '"SIP+D2U"', '"SIP+D2W"']);
  });

  test("garbage datagrams do not take it down", async () => {
    const sock = dgram.createSocket("udp4");
    for (const payload of [Buffer.alloc(0), Buffer.from("hello"), Buffer.alloc(600, 0xff), Buffer.from([0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xc0, 0x0c, 0, 1, 0, 1])]) {
      await new Promise<void>((r) => sock.send(payload, PORT, DNS1, () => r()));
    }
    sock.close();
    assert.equal((await dig("node1.example.com", "A"))[0], `${SUBNET}.101`);
    assert.ok(lab.proc("dns1").alive);
  });
});
