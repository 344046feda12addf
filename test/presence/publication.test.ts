import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { PublicationStore } from "../../src/presence/publication.js";
import { pidf } from "./fixtures.js";

const AOR = "alice@example.com";
const T0 = 5_000_000;
const PIDF = "application/pidf+xml";

describe("RFC 3903 publications", () => {
  it("an initial PUBLISH gets a SIP-ETag; refresh, modify and remove need it as SIP-If-Match", () => {
    const s = new PublicationStore();
    const first = s.publish(AOR, { expires: 600, body: pidf(AOR, "t1", "open"), contentType: PIDF }, T0);
    assert.ok(first.status === 200 && first.changed);
    const refresh = s.publish(AOR, { ifMatch: first.etag, expires: 600 }, T0 + 1000);
    assert.ok(refresh.status === 200 && !refresh.changed, "a refresh changes no state");
    assert.notEqual(refresh.etag, first.etag, "every success gets a new entity tag (RFC 3903 6)");
    assert.equal(s.publish(AOR, { ifMatch: first.etag, expires: 600 }, T0 + 2000).status, 412, "the old tag is stale");
    const modify = s.publish(AOR, { ifMatch: refresh.etag, body: pidf(AOR, "t1", "closed"), contentType: PIDF }, T0 + 3000);
    assert.ok(modify.status === 200 && modify.changed);
    assert.match(s.publications(AOR, T0 + 3000)[0]!.body, /closed/);
    const remove = s.publish(AOR, { ifMatch: modify.etag, expires: 0 }, T0 + 4000);
    assert.ok(remove.status === 200 && remove.expires === 0);
    assert.equal(s.publications(AOR, T0 + 4000).length, 0);
  });

  it("publications expire; the version counts every change", () => {
    const s = new PublicationStore();
    const v0 = s.version(AOR);
    s.publish(AOR, { expires: 60, body: pidf(AOR, "t1", "open"), contentType: PIDF }, T0);
    assert.deepEqual(s.expire(T0 + 59_000), []);
    assert.deepEqual(s.expire(T0 + 60_000), [AOR]);
    assert.equal(s.publications(AOR, T0 + 60_000).length, 0);
    assert.equal(s.version(AOR), v0 + 2);
    assert.equal(s.publish(AOR, { ifMatch: "gone", expires: 60 }, T0 + 61_000).status, 412);
  });

  it("refuses bad publications with a reason: no body, wrong type, not PIDF, another entity, too large, too short, too many", () => {
    const s = new PublicationStore({ maxPublicationBytes: 2048, maxPublications: 2 });
    assert.equal(s.publish(AOR, { expires: 600 }, T0).status, 400);
    assert.equal(s.publish(AOR, { body: pidf(AOR, "t", "open"), contentType: "text/plain" }, T0).status, 415);
    const notXml = s.publish(AOR, { body: "<presence", contentType: PIDF }, T0);
    assert.ok(notXml.status === 400 && /does not parse/.test(notXml.reason));
    const other = s.publish(AOR, { body: pidf("mallory@example.com", "t", "open"), contentType: PIDF }, T0);
    assert.ok(other.status === 400 && /not the presentity/.test(other.reason));
    assert.equal(s.publish(AOR, { body: pidf(AOR, "t", "open") + `<!--${"x".repeat(3000)}-->`, contentType: PIDF }, T0).status, 413);
    assert.deepEqual(s.publish(AOR, { expires: 5, body: pidf(AOR, "t", "open"), contentType: PIDF }, T0), { status: 423, minExpires: 60 });
    for (const t of ["a", "b"]) assert.equal(s.publish(AOR, { body: pidf(AOR, t, "open"), contentType: PIDF }, T0).status, 200);
    assert.equal(s.publish(AOR, { body: pidf(AOR, "c", "open"), contentType: PIDF }, T0).status, 403);
  });

  it("replication: a newer entry replaces, an older one is ignored", () => {
    const a = new PublicationStore();
    const b = new PublicationStore();
    a.publish(AOR, { body: pidf(AOR, "t", "open"), contentType: PIDF }, T0);
    assert.equal(b.apply(a.entry(AOR)), true);
    assert.equal(b.apply(a.entry(AOR)), false);
    assert.deepEqual(b.publications(AOR, T0), a.publications(AOR, T0));
  });
});
