import { describe, it } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { parseXcapUri } from "../../src/xcap/uri-codec.js";

describe("XCAP URIs (RFC 4825 6)", () => {
  it("splits the application usage, user, document and node selector", () => {
    const r = parseXcapUri("/xcap-root/resource-lists/users/sip:Alice@Example.COM/index/~~/resource-lists/list%5b@name=%22a%2Fb%22%5d?xmlns(rl=urn:ietf:params:xml:ns:resource-lists)", "/xcap-root");
    assert.ok(r.ok);
    assert.equal(r.uri.auid, "resource-lists");
    assert.equal(r.uri.xui, "sip:Alice@example.com", "the domain is lower-cased, the user part kept");
    assert.equal(r.uri.aor, "Alice@example.com");
    assert.equal(r.uri.document, "index");
    assert.equal(r.uri.selector, 'resource-lists/list[@name="a/b"]');
    assert.equal(r.uri.namespaces.get("rl"), "urn:ietf:params:xml:ns:resource-lists");
    assert.equal(r.uri.documentPath, "/xcap-root/resource-lists/users/sip:Alice@Example.COM/index");
  });

  it("accepts a bare user@domain and percent-encoded XUIs as the same user", () => {
    const a = parseXcapUri("/xcap-root/pres-rules/users/alice@example.com/index", "/xcap-root");
    const b = parseXcapUri("/xcap-root/pres-rules/users/sip%3Aalice%40example.com/index", "/xcap-root");
    assert.ok(a.ok && b.ok);
    assert.equal(a.uri.xui, b.uri.xui);
  });

  it("reads global documents (xcap-caps)", () => {
    const r = parseXcapUri("/xcap-root/xcap-caps/global/index", "/xcap-root");
    assert.ok(r.ok);
    assert.equal(r.uri.scope, "global");
    assert.equal(r.uri.xui, undefined);
  });

  it("answers 404 for paths that name no document and 400 for bad encoding", () => {
    const cases: Array<[string, number]> = [
      ["/other/pres-rules/users/sip:a@b.c/index", 404],
      ["/xcap-root/pres-rules/people/sip:a@b.c/index", 404],
      ["/xcap-root/pres-rules/users/sip:a@b.c/", 404],
      ["/xcap-root/pres-rules/users/nobody/index", 404],
      ["/xcap-root/pres-rules/users/sip:a@b.c/../../etc/passwd", 404],
      ["/xcap-root/pres-rules/users/sip:a@b.c/a/b/c/d/e", 404],
      ["/xcap-root/pres-rules/users/sip:a@b.c/index/~~/x%zz", 400],
      ["/xcap-root/pres-rules/users/sip%ZZ/index", 400],
      ["/xcap-root/pres-rules/users/sip:a@b.c/index?garbage", 400],
    ];
    for (const [t, status] of cases) {
      const r = parseXcapUri(t, "/xcap-root");
      assert.equal(r.ok, false, t);
      assert.equal(!r.ok && r.status, status, t);
    }
  });

  it("never throws on arbitrary targets (fuzz)", () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 300 }), (s) => {
        parseXcapUri(`/xcap-root/${s}`, "/xcap-root");
      }),
      { numRuns: 3000, interruptAfterTimeLimit: 4000 },
    );
  });
});
