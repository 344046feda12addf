import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { grantExpires, Subscription, subscriptionStateHeader } from "../../src/presence/subscription.js";
import { DEFAULT_PRESENCE_LIMITS } from "../../src/presence/options.js";

const T0 = 1_000_000;
const open = (handling: "allow" | "confirm" | "polite-block" | "block", expires = 600) =>
  Subscription.open({ id: "d1", package: "presence", presentity: "alice@example.com", watcher: "sip:bob@example.com", expires, handling, now: T0 });

describe("RFC 6665 notifier: one subscription", () => {
  it("an authorised SUBSCRIBE is accepted and MUST be followed by an immediate NOTIFY (4.2.1.2)", () => {
    const { sub, outcome } = open("allow");
    assert.equal(outcome.status, 200);
    assert.ok(outcome.status === 200 && outcome.notify);
    assert.equal(subscriptionStateHeader(outcome.status === 200 ? outcome.notify : (undefined as never)), "active;expires=600");
    assert.equal(sub.state, "active");
  });

  it("confirm leaves it pending with a neutral document until the rules allow it", () => {
    const { sub, outcome } = open("confirm");
    assert.ok(outcome.status === 200);
    assert.deepEqual(outcome.notify, { state: "pending", expires: 600, neutral: true });
    const n = sub.reauthorize("allow", T0 + 10_000);
    assert.deepEqual(n, { state: "active", expires: 590, neutral: false });
  });

  it("polite-block is active but neutral; block is refused with 403", () => {
    const polite = open("polite-block");
    assert.ok(polite.outcome.status === 200 && polite.outcome.notify.state === "active" && polite.outcome.notify.neutral);
    const blocked = open("block");
    assert.equal(blocked.outcome.status, 403);
    assert.equal(blocked.sub.state, "terminated");
  });

  it("a refresh moves the deadline; Expires: 0 ends it with reason timeout; a terminated one answers 481", () => {
    const { sub } = open("allow");
    const r = sub.refresh(300, T0 + 100_000);
    assert.ok(r.status === 200 && r.notify.expires === 300);
    assert.equal(sub.expire(T0 + 100_000 + 299_000), undefined, "not yet");
    const end = sub.refresh(0, T0 + 200_000);
    assert.ok(end.status === 200);
    assert.equal(subscriptionStateHeader(end.status === 200 ? end.notify : (undefined as never)), "terminated;reason=timeout");
    assert.equal(sub.refresh(300, T0 + 300_000).status, 481);
  });

  it("expiry terminates with reason timeout (4.2.2) and only once", () => {
    const { sub } = open("allow", 60);
    assert.equal(sub.expire(T0 + 59_999), undefined);
    assert.deepEqual(sub.expire(T0 + 60_000), { state: "terminated", reason: "timeout", neutral: false });
    assert.equal(sub.expire(T0 + 70_000), undefined);
  });

  it("rules that block an active watcher terminate it with reason rejected; allow → confirm keeps it active", () => {
    const a = open("allow").sub;
    assert.equal(a.reauthorize("confirm", T0), undefined, "an active subscription does not go back to pending");
    assert.deepEqual(a.reauthorize("block", T0), { state: "terminated", reason: "rejected", neutral: false });
  });

  it("a fetch (Expires: 0) is answered and notified once, then ends", () => {
    const { sub, outcome } = open("allow", 0);
    assert.ok(outcome.status === 200 && outcome.notify.state === "terminated" && outcome.notify.reason === "timeout");
    assert.equal(sub.state, "terminated");
  });

  it("grants Expires within bounds: 423 below the minimum, shortened above the maximum, a default when absent", () => {
    assert.deepEqual(grantExpires(10, DEFAULT_PRESENCE_LIMITS), { tooBrief: 60 });
    assert.equal(grantExpires(0, DEFAULT_PRESENCE_LIMITS), 0);
    assert.equal(grantExpires(100_000, DEFAULT_PRESENCE_LIMITS), DEFAULT_PRESENCE_LIMITS.maxSubscribeExpires);
    assert.equal(grantExpires(undefined, DEFAULT_PRESENCE_LIMITS), 3600);
  });

  it("a restored record continues where the holder left (replica takes over)", () => {
    const { sub } = open("allow");
    sub.notifyAction(T0);
    const copy = Subscription.restore({ ...sub.record });
    assert.equal(copy.notifyAction(T0).state, "active");
    assert.equal(copy.record.notifies, sub.record.notifies + 1, "the NOTIFY count goes on");
  });
});
