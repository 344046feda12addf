import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { EVENT_SERVERS, PartitionLab, applied } from "../support/partition-lab.js";
import { netnsUnavailable } from "../support/netns.js";
import { privateNet } from "../support/slot.js";

/**
 * Issue 15, partitions (a): a node cut off from every event server while
 * phones and the other nodes still reach it. The managers expire it; it
 * must stop claiming subscribers: once it hears no manager and its peers
 * hold a newer membership it answers phones 503 with Retry-After (they
 * register through another node) and holds no AOR, until a manager is heard
 * again. Each member in its own network namespace, privateNet(1).0/24.
 */
const skip = netnsUnavailable();

describe("issue-15 partition: a node cut off from the event servers", { skip, timeout: 90_000 }, () => {
  let net: PartitionLab;
  before(async () => {
    net = await PartitionLab.create("a", privateNet(1));
    await net.start();
  });
  after(async () => {
    await net?.stop();
  });

  it("stops registering users into a view the others dropped, and serves again once it hears the managers", async () => {
    await net.registerUntil("node1", "alice", "ok");

    const from = { node1: net.mark("node1"), node2: net.mark("node2") };
    net.net.cut("node1", [...EVENT_SERVERS]);
    // The managers expire node1; node2 follows.
    await net.waitSince("node2", from.node2, (l) => applied(l) && l["members"] === 2, "node1 expired from the membership");
    // node1 hears nothing from the managers, asks its peers, and finds the cluster moved on without it.
    const cut = await net.waitSince("node1", from.node1, (l) => l.msg?.startsWith("cut off from the cluster") === true, "node1 knows it is cut off");
    assert.match(String(cut["reason"]), /newer membership/);
    const r = await net.register("node1", "bob", "unavailable");
    assert.equal(r.code, 0, `a phone's REGISTER through node1 gets 503 with Retry-After while it is cut off:\n${r.messages.slice(-1500)}`);
    // The cluster serves bob through a node that hears the managers.
    await net.registerUntil("node2", "bob", "ok");
    assert.deepEqual(net.since("node1", from.node1, applied), [], "node1 applied no membership while cut off");

    const healed = { node1: net.mark("node1"), node2: net.mark("node2") };
    net.net.heal("node1", [...EVENT_SERVERS]);
    await net.waitSince("node2", healed.node2, (l) => applied(l) && l["members"] === 3, "node1 back in the membership", 40_000);
    await net.waitSince("node1", healed.node1, (l) => l.msg === "a manager confirms our membership again: serving as a member", "node1 serving again", 40_000);
    await net.registerUntil("node1", "carol", "ok");
  });
});
