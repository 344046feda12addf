import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { ManualClock } from "../../src/base/index.js";

describe("ManualClock", () => {
  it("fires due timers in deadline order, including ones scheduled while advancing", () => {
    const clock = new ManualClock();
    const fired: string[] = [];
    clock.setTimeout(() => fired.push("b@20"), 20);
    clock.setTimeout(() => {
      fired.push("a@10");
      clock.setTimeout(() => fired.push("c@15"), 5);
    }, 10);
    const cancelled = clock.setTimeout(() => fired.push("never"), 12);
    clock.clearTimeout(cancelled);
    clock.advance(19);
    assert.deepEqual(fired, ["a@10", "c@15"]);
    assert.equal(clock.now(), 19);
    clock.advance(1);
    assert.deepEqual(fired, ["a@10", "c@15", "b@20"]);
    assert.equal(clock.pendingCount, 0);
  });
});
