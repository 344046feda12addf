import { describe, expect, it } from "vitest";
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
    expect(fired).toEqual(["a@10", "c@15"]);
    expect(clock.now()).toBe(19);
    clock.advance(1);
    expect(fired).toEqual(["a@10", "c@15", "b@20"]);
    expect(clock.pendingCount).toBe(0);
  });
});
