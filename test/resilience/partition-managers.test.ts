import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { NODES, PartitionLab, applied } from "../support/partition-lab.js";
import { netnsUnavailable } from "../support/netns.js";
import type { LogLine } from "../support/processes.js";

/**
 * Issue 15, partitions (b): the two managers each see a different part of
 * the event servers and of the members.
 *
 *   side A (es1):      mgr1 (the active manager), node1 (cut from es2, es3)
 *   side B (es2, es3): mgr2, node3 (cut from es1)
 *   node2 reaches every event server; the nodes reach each other.
 *
 * No split brain: mgr1, which hears a minority of the event servers,
 * publishes nothing, so no node applies its membership; mgr2 takes over
 * with a higher term. node1, which hears no manager while its peers follow
 * mgr2's newer membership, is cut off: phones get 503 through it. After the
 * heal mgr1 steps down and node1 rejoins under mgr2's term. Each member in
 * its own network namespace, 10.155.2.0/24.
 */
const skip = netnsUnavailable();

describe("issue-15 partition: the managers see different parts of the network", { skip, timeout: 90_000 }, () => {
  let net: PartitionLab;
  before(async () => {
    net = await PartitionLab.create("b", "10.155.2");
    await net.start();
  });
  after(async () => {
    await net?.stop();
  });

  it("applies one manager's membership only, and the side without the majority stops claiming subscribers", async () => {
    await net.proc("mgr1").waitForLog((l) => l.msg === "became the active manager", 10_000, "mgr1 active");
    const from = Object.fromEntries(["mgr1", "mgr2", ...NODES].map((n) => [n, net.mark(n)]));
    net.net.cut("mgr1", ["es2", "es3"]);
    net.net.cut("mgr2", ["es1"]);
    net.net.cut("node1", ["es2", "es3"]);
    net.net.cut("node3", ["es1"]);

    const takeover = await net.waitSince("mgr2", from["mgr2"]!, (l) => l.msg === "became the active manager", "mgr2 takes over");
    await net.waitSince("mgr1", from["mgr1"]!, (l) => l.msg?.startsWith("no majority of the event servers heard") === true, "mgr1 knows it hears a minority");
    // mgr2 hears node1 through no event server: it expires it; node2 and node3 follow mgr2.
    for (const n of ["node2", "node3"]) await net.waitSince(n, from[n]!, (l) => applied(l) && l["manager"] === "mgr2" && l["members"] === 2, `${n} follows mgr2 without node1`);
    const isCutOff = (l: LogLine) => l.msg?.startsWith("cut off from the cluster") === true;
    const cut = await net.waitSince("node1", from["node1"]!, (l) => isCutOff(l) || (applied(l) && l["manager"] === "mgr1"), "node1 knows it is cut off");
    assert.ok(isCutOff(cut), `split brain: node1 applied mgr1's membership while node2 and node3 follow mgr2: ${JSON.stringify(cut)}`);
    assert.match(String(cut["reason"]), /newer membership/);
    const r = await net.register("node1", "alice", "unavailable");
    assert.equal(r.code, 0, `REGISTER through node1 gets 503 with Retry-After:\n${r.messages.slice(-1500)}`);
    await net.registerUntil("node2", "alice", "ok");

    // No split brain: during the partition no node applied anything of mgr1's.
    for (const n of NODES) {
      const fromMgr1 = net.since(n, from[n]!, (l) => applied(l) && l["manager"] === "mgr1");
      assert.deepEqual(fromMgr1, [], `${n} applied mgr1's membership during the partition`);
    }
    assert.ok(Number(takeover["term"]) > 0);

    const healed = Object.fromEntries(["mgr1", ...NODES].map((n) => [n, net.mark(n)]));
    net.net.heal("mgr1", ["es2", "es3"]);
    net.net.heal("mgr2", ["es1"]);
    net.net.heal("node1", ["es2", "es3"]);
    net.net.heal("node3", ["es1"]);
    await net.waitSince("node2", healed["node2"]!, (l) => applied(l) && l["manager"] === "mgr2" && l["members"] === 3, "node1 back, under mgr2", 40_000);
    await net.waitSince("node1", healed["node1"]!, (l) => applied(l) && l["manager"] === "mgr2", "node1 follows mgr2", 40_000);
    await net.registerUntil("node1", "bob", "ok");
    for (const n of NODES) assert.deepEqual(net.since(n, healed[n]!, (l) => applied(l) && l["manager"] === "mgr1"), [], `${n} applied mgr1's membership after the heal`);
  });
});
