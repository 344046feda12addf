import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { Election, winsOver } from "../../src/manager/index.js";
import type { ManagerHeartbeat } from "../../src/events/index.js";

const WALL = 1_700_000_000_000;
function make(id: string, priority: number, now = 0) {
  return new Election({ id, ip: `10.0.0.${priority}`, priority, startedAt: 0, deadMs: 3000, wallNow: () => WALL + now }, now);
}

/** Deliver every heartbeat to every other election, as the event servers would. */
function round(now: number, all: Election[]): void {
  const hbs: ManagerHeartbeat[] = all.map((e) => {
    e.tick(now);
    return e.heartbeat();
  });
  for (const e of all) for (const hb of hbs) e.receive(hb, now);
}

describe("manager election", () => {
  it("listens first, then the best candidate by (priority, id) becomes active with a wall-clock term", () => {
    const a = make("a", 20);
    const b = make("b", 10);
    let activeAt = -1;
    for (let t = 0; t <= 4000; t += 1000) {
      round(t, [a, b]);
      if (activeAt < 0 && b.role === "active") activeAt = t;
    }
    assert.equal(b.role, "active");
    assert.equal(a.role, "standby");
    assert.ok(activeAt >= 3000, `active at ${activeAt} ms, before listening for deadMs (3000 ms)`);
    // No term seen before: the new term is the wall-clock second (these elections' wall clock reads WALL).
    assert.equal(b.term, Math.floor(WALL / 1000));
    assert.equal(a.term, b.term, "the standby learned the active manager's term");
    assert.equal(a.activeId(), "b");
  });

  it("does not preempt: a better manager joining later stays standby", () => {
    const a = make("a", 20);
    for (let t = 0; t <= 4000; t += 1000) round(t, [a]);
    assert.equal(a.role, "active");
    const c = make("c", 1, 4000);
    for (let t = 5000; t <= 12000; t += 1000) round(t, [a, c]);
    assert.equal(a.role, "active");
    assert.equal(c.role, "standby");
  });

  it("takes over within deadMs + one heartbeat after the active manager dies, with a higher term", () => {
    const a = make("a", 10);
    const b = make("b", 20);
    for (let t = 0; t <= 4000; t += 1000) round(t, [a, b]);
    assert.equal(a.role, "active");
    const oldTerm = a.term;
    let took = -1;
    for (let t = 5000; t <= 10000; t += 1000) {
      round(t, [b]);
      if (b.role === "active" && took < 0) took = t;
    }
    assert.ok(took > 0 && took - 4000 <= 3000 + 1000, `took over at ${took}`);
    assert.ok(b.term > oldTerm);
  });

  it("hands over at once when the active manager resigns", () => {
    const a = make("a", 10);
    const b = make("b", 20);
    for (let t = 0; t <= 4000; t += 1000) round(t, [a, b]);
    const t = b.receive(a.resign(), 4100);
    assert.equal(t?.to, "active");
    assert.equal(b.role, "active");
  });

  it("resolves two actives after a partition: higher term wins, the loser steps down", () => {
    const a = make("a", 10);
    const b = make("b", 20);
    for (let t = 0; t <= 4000; t += 1000) {
      round(t, [a]);
      round(t + 1, [b]);
    }
    assert.equal(a.role, "active");
    assert.equal(b.role, "active");
    for (let t = 5000; t <= 7000; t += 1000) round(t, [a, b]);
    assert.equal([a, b].filter((e) => e.role === "active").length, 1);
    const winner = a.role === "active" ? a : b;
    const loser = winner === a ? b : a;
    assert.ok(winsOver(winner.heartbeat(), { ...loser.heartbeat(), term: loser.term }) || winner.term >= loser.term);
  });
});

describe("manager election after hearing nothing", () => {
  it("a manager that heard no majority until after its listening time listens again before it may take over, and so learns the active manager", () => {
    const a = make("a", 20);
    for (let t = 0; t <= 4000; t += 1000) round(t, [a]);
    assert.equal(a.role, "active");
    // c starts (better priority) but hears nothing for 10 s: it neither acts nor learns anything meanwhile.
    const c = make("c", 1, 4000);
    c.resume(14_000);
    assert.equal(c.tick(14_000), undefined, "no takeover on the first moment it hears");
    for (let t = 14_000; t <= 20_000; t += 1000) round(t, [a, c]);
    assert.equal(a.role, "active");
    assert.equal(c.role, "standby", "c learned of a instead of starting a higher term");
  });
});
