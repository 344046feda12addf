import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { ConfigError } from "../../src/cli/config.js";
import { planWorkers } from "../../src/cli/sip-workers.js";
import { RoleMap, type Entity } from "../../src/overlay/index.js";
import { pickHolders, restartedMembers, SIP_HOST_ATTR } from "../../src/roles/index.js";

const settings = { name: "h1", ip: "203.0.113.5", sipWorkers: 2, workerIps: ["10.0.0.11", "10.0.0.12"], sipListen: ["udp:203.0.113.5:5060", "tcp:203.0.113.5:5060"], roles: ["sip_proxy"], metricsListen: "10.0.0.1:9100" };
const argOf = (args: readonly string[], flag: string) => args[args.lastIndexOf(flag) + 1];

describe("SIP workers: the plan of a host's workers", () => {
  it("shares every UDP listener, gives worker k the UDP port + k for its Via, and moves stream listeners to its member address", () => {
    const plans = planWorkers(settings, true);
    assert.deepEqual(plans.map((p) => [p.name, p.ip]), [["h1-w1", "10.0.0.11"], ["h1-w2", "10.0.0.12"]]);
    assert.equal(argOf(plans[1]!.args, "--sip-shared"), "udp:203.0.113.5:5060");
    assert.equal(argOf(plans[1]!.args, "--sip-listen"), "udp:203.0.113.5:5062,tcp:10.0.0.12:5060");
    assert.equal(argOf(plans[1]!.args, "--sip-workers"), "1");
    assert.equal(argOf(plans[1]!.args, "--metrics-listen"), "10.0.0.1:9102");
  });

  it("without SO_REUSEPORT runs one worker on the listeners as given", () => {
    const plans = planWorkers(settings, false);
    assert.equal(plans.length, 1);
    assert.equal(argOf(plans[0]!.args, "--sip-listen"), "udp:203.0.113.5:5060,tcp:10.0.0.11:5060");
    assert.ok(!plans[0]!.args.includes("--sip-shared"));
  });

  it("refuses a worker count without as many member addresses, and roles other than sip_proxy", () => {
    assert.throws(() => planWorkers({ ...settings, workerIps: ["10.0.0.11"] }, true), (e: unknown) => e instanceof ConfigError && /worker_ips/.test(e.message));
    assert.throws(() => planWorkers({ ...settings, roles: ["sip_proxy", "media_relay"] }, true), (e: unknown) => e instanceof ConfigError && /sip_proxy only/.test(e.message));
  });
});

const member = (id: string, host?: string): Entity => ({ id, ip: id, roles: ["sip_proxy"], version: "t", ports: {}, attrs: host ? { [SIP_HOST_ATTR]: host } : {}, startedAt: 1 });

describe("SIP workers: holders of an AOR", () => {
  const aors = Array.from({ length: 300 }, (_, i) => `user${i}@example.com`);

  it("are the ring successors when no member names a host (every member a host of its own)", () => {
    const map = RoleMap.fromMembers(["10.0.0.1", "10.0.0.2", "10.0.0.3"].map((ip) => member(ip)));
    for (const aor of aors) assert.deepEqual(pickHolders(map, aor, 2), map.successors("sip_proxy", aor, 2).map((e) => e.id));
  });

  it("are on distinct hosts when there are enough, the responsible node first; on one host when there is only one", () => {
    const hosts = { "10.0.0.1": "A", "10.0.0.2": "A", "10.0.0.3": "B", "10.0.0.4": "B", "10.0.0.5": "C", "10.0.0.6": "C" };
    const map = RoleMap.fromMembers(Object.entries(hosts).map(([ip, h]) => member(ip, h)));
    for (const aor of aors) {
      const set = pickHolders(map, aor, 2);
      assert.equal(set[0], map.successors("sip_proxy", aor, 1)[0]!.id, "the responsible node stays first");
      assert.notEqual(hosts[set[0] as keyof typeof hosts], hosts[set[1] as keyof typeof hosts], `${aor}: ${set.join(", ")}`);
    }
    const oneHost = RoleMap.fromMembers([member("10.0.0.1", "A"), member("10.0.0.2", "A")]);
    assert.deepEqual(pickHolders(oneHost, aors[0]!, 2).sort(), ["10.0.0.1", "10.0.0.2"]);
  });
});

describe("SIP workers: a worker started again", () => {
  it("counts as a new holder for the hand-over when its start time changed, even if it never left the membership", () => {
    const before = RoleMap.fromMembers([member("10.0.0.1", "A"), member("10.0.0.2", "A")]);
    const after = RoleMap.fromMembers([{ ...member("10.0.0.1", "A"), startedAt: 2 }, member("10.0.0.2", "A")]);
    assert.deepEqual([...restartedMembers(before, after)], ["10.0.0.1"]);
    assert.deepEqual([...restartedMembers(before, before)], []);
  });
});
