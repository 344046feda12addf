import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { NODES, PartitionLab, applied } from "../support/partition-lab.js";
import { netnsUnavailable } from "../support/netns.js";
import type { LogLine } from "../support/processes.js";
import { waitFor } from "../support/wait-for.js";
import { privateNet } from "../support/slot.js";

/**
 * Issue 15, partitions (b): the two managers each see a different part of
 * the event servers and of the members.
 *
 *   side A (es1):      the active manager (A), node1 (cut from es2, es3)
 *   side B (es2, es3): the standby (B), node3 (cut from es1)
 *   node2 reaches every event server; the nodes reach each other.
 *
 * No split brain: A, which hears a minority of the event servers, publishes
 * nothing, so no node applies its membership; B takes over with a higher
 * term. node1, which hears no manager while its peers follow B's newer
 * membership, is cut off: phones get 503 through it. After the heal A steps
 * down and node1 rejoins under B's term. Each member in its own network
 * namespace, privateNet(2).0/24.
 */
const skip = netnsUnavailable();

describe("issue-15 partition: the managers see different parts of the network", { skip, timeout: 90_000 }, () => {
  let net: PartitionLab;
  before(async () => {
    net = await PartitionLab.create("b", privateNet(2));
    await net.start();
  });
  after(async () => {
    await net?.stop();
  });

  it("applies one manager's membership only, and the side without the majority stops claiming subscribers", async () => {
    // Whichever manager won the election at start (the first to hear a majority) goes to the minority side.
    const first = await waitFor(() => ["mgr1", "mgr2"].find((m) => net.proc(m).logs.some((l) => l.msg === "became the active manager")), { timeoutMs: 10_000, message: "an active manager" });
    const A = first;
    const B = first === "mgr1" ? "mgr2" : "mgr1";
    const from = Object.fromEntries([A, B, ...NODES].map((n) => [n, net.mark(n)]));
    const cuts: Array<[string, string[]]> = [
      [A, ["es2", "es3"]],
      [B, ["es1"]],
      ["node1", ["es2", "es3"]],
      ["node3", ["es1"]],
    ];
    for (const [who, es] of cuts) net.net.cut(who, es);

    const takeover = await net.waitSince(B, from[B]!, (l) => l.msg === "became the active manager", `${B} takes over`);
    await net.waitSince(A, from[A]!, (l) => l.msg?.startsWith("no majority of the event servers heard") === true, `${A} knows it hears a minority`);
    // B hears node1 through no event server: it expires it; node2 and node3 follow B.
    for (const n of ["node2", "node3"]) await net.waitSince(n, from[n]!, (l) => applied(l) && l["manager"] === B && l["members"] === 2, `${n} follows ${B} without node1`);
    const isCutOff = (l: LogLine) => l.msg?.startsWith("cut off from the cluster") === true;
    const cut = await net.waitSince("node1", from["node1"]!, (l) => isCutOff(l) || (applied(l) && l["manager"] === A), "node1 knows it is cut off");
    assert.ok(isCutOff(cut), `split brain: node1 applied ${A}'s membership while node2 and node3 follow ${B}: ${JSON.stringify(cut)}`);
    assert.match(String(cut["reason"]), /newer membership/);
    const r = await net.register("node1", "alice", "unavailable");
    assert.equal(r.code, 0, `REGISTER through node1 gets 503 with Retry-After:\n${r.messages.slice(-1500)}`);
    await net.registerUntil("node2", "alice", "ok");

    // No split brain: during the partition no node applied anything of A's.
    for (const n of NODES) assert.deepEqual(net.since(n, from[n]!, (l) => applied(l) && l["manager"] === A), [], `${n} applied ${A}'s membership during the partition`);
    assert.ok(Number(takeover["term"]) > 0);

    const healed = Object.fromEntries([A, ...NODES].map((n) => [n, net.mark(n)]));
    for (const [who, es] of cuts) net.net.heal(who, es);
    await net.waitSince("node2", healed["node2"]!, (l) => applied(l) && l["manager"] === B && l["members"] === 3, `node1 back, under ${B}`, 40_000);
    await net.waitSince("node1", healed["node1"]!, (l) => applied(l) && l["manager"] === B, `node1 follows ${B}`, 40_000);
    await net.waitSince(A, healed[A]!, (l) => l.msg === "manager is now standby", `${A} steps down`, 40_000);
    await net.registerUntil("node1", "bob", "ok");
    for (const n of NODES) assert.deepEqual(net.since(n, healed[n]!, (l) => applied(l) && l["manager"] === A), [], `${n} applied ${A}'s membership after the heal`);
  });
});
