import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { ManualClock, silentLogger } from "../../src/base/index.js";
import { CutOffDetector, judgeSilence, newerVersion, parsePeerStanding, type MembershipVersion } from "../../src/node/index.js";

const v = (epoch: number, seq: number, manager = "mgr1"): MembershipVersion => ({ epoch, seq, manager });

describe("node: cut off from the cluster (issue 15, partitions)", () => {
  it("judges a silent bus by what the peers hold", () => {
    const own = v(10, 5);
    assert.deepEqual(judgeSilence(own, []), { cutOff: false, why: "alone" });
    assert.deepEqual(judgeSilence(own, [{ peer: "n2", answer: { version: v(10, 5), heardMsAgo: 9000 } }]), { cutOff: false, why: "shared-outage" });
    assert.equal(judgeSilence(own, [{ peer: "n2", answer: { version: v(10, 6), heardMsAgo: 100 } }]).cutOff, true, "a later seq of the same term");
    assert.equal(judgeSilence(own, [{ peer: "n2", answer: undefined }, { peer: "n3", answer: { version: v(11, 0, "mgr2"), heardMsAgo: 100 } }]).cutOff, true, "a later term");
    assert.equal(judgeSilence(own, [{ peer: "n2", answer: undefined }, { peer: "n3", answer: undefined }]).cutOff, true, "nobody answers");
    assert.deepEqual(judgeSilence(own, [{ peer: "n2", answer: undefined }, { peer: "n3", answer: { version: v(9, 99), heardMsAgo: 100 } }]), { cutOff: false, why: "shared-outage" });
    assert.equal(newerVersion(v(10, 6, "mgr2"), own), false, "same term, another manager: no order");
  });

  it("parses a peer's answer without trusting it", () => {
    assert.deepEqual(parsePeerStanding({ version: { epoch: 1, seq: 2, manager: "m" }, heardMsAgo: 5 }), { version: v(1, 2, "m"), heardMsAgo: 5 });
    assert.deepEqual(parsePeerStanding({ version: null, heardMsAgo: null }), { version: null, heardMsAgo: null });
    for (const bad of [null, 3, "x", {}, { version: { epoch: "1", seq: 2, manager: "m" }, heardMsAgo: 1 }, { version: { epoch: 1, seq: 2, manager: "m".repeat(300) }, heardMsAgo: 1 }, { version: null, heardMsAgo: "1" }]) {
      assert.equal(parsePeerStanding(bad), undefined, JSON.stringify(bad));
    }
  });

  it("asks the peers only after the silence, and is back as soon as a manager confirms the membership", async () => {
    const clock = new ManualClock(1);
    let confirmed = 1;
    const peerVersion = { current: v(10, 5) };
    const asked: string[] = [];
    const d = new CutOffDetector({
      clock,
      logger: silentLogger,
      silenceMs: 6000,
      lastConfirmedAt: () => confirmed,
      version: () => v(10, 5),
      peers: () => ["n2", "n3", "n4", "n5"],
      probe: async (peer) => {
        asked.push(peer);
        return { version: peerVersion.current, heardMsAgo: 0 };
      },
    });
    await d.check();
    clock.advance(5000);
    await d.check();
    assert.equal(asked.length, 0, "no probe while the managers were heard recently");
    clock.advance(2000);
    await d.check();
    assert.equal(asked.length, 3, "at most three peers per check");
    assert.equal(d.cutOff, undefined, "the peers hold the same membership: a shared outage, keep serving");
    peerVersion.current = v(10, 6); // the managers expired us: the others moved on
    await d.check();
    assert.match(d.cutOff ?? "", /newer membership/);
    assert.ok(asked.includes("n5"), "the peers asked rotate");
    confirmed = clock.now();
    await d.check();
    assert.equal(d.cutOff, undefined);
  });
});
