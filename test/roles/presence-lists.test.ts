import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { silentLogger } from "../../src/base/index.js";
import { listMembers, parseAnchor, readExternalLists } from "../../src/roles/presence-lists.js";
import { BUDDIES } from "../xcap/fixtures.js";

const OWNER = "alice@example.com";
const DOC = `http://xcap.example.com/xcap-root/resource-lists/users/sip:${OWNER}/index`;
const FRIENDS = `${DOC}/~~/resource-lists/list%5b@name=%22friends%22%5d`;

describe("external-list anchors (RFC 5025 3.1.1 over RFC 4826 resource lists)", () => {
  it("an anchor names a list of the owner's resource-lists document; its entries are the members", () => {
    const a = parseAnchor(FRIENDS, OWNER);
    assert.ok(!("error" in a), "error" in a ? a.error : "");
    assert.deepEqual(a.key, { auid: "resource-lists", xui: `sip:${OWNER}`, name: "index" });
    assert.deepEqual(listMembers(BUDDIES, a.steps), ["sip:bob@example.com", "sip:carol@example.com"]);
    // No node selector: every list of the document; nested lists count.
    const nested = `<resource-lists xmlns="urn:ietf:params:xml:ns:resource-lists"><list name="a"><entry uri="sip:x@example.com"/><list name="b"><entry uri="sip:y@example.com"/></list></list></resource-lists>`;
    const whole = parseAnchor(DOC, OWNER);
    assert.ok(!("error" in whole));
    assert.deepEqual(listMembers(nested, whole.steps), ["sip:x@example.com", "sip:y@example.com"]);
  });

  it("anchors into another user's documents, other usages, attributes or bad selectors are not used", () => {
    for (const bad of [FRIENDS.replace(OWNER, "bob@example.com"), `http://x/xcap-root/pres-rules/users/sip:${OWNER}/index`, `${FRIENDS}/@name`, `${DOC}/~~/resource-lists/list%5b`, "not a uri"]) {
      assert.ok("error" in parseAnchor(bad, OWNER), bad);
    }
  });

  it("reads each document once for all anchors; a missing document is an empty list", async () => {
    const reads: string[] = [];
    const lists = await readExternalLists(OWNER, [FRIENDS, `${DOC}/~~/resource-lists/list%5b@name=%22work%22%5d`, FRIENDS.replace("/index/", "/other/")], async (key) => {
      reads.push(key.name);
      return key.name === "index" ? BUDDIES : undefined;
    }, silentLogger);
    assert.deepEqual(reads, ["index", "other"]);
    assert.deepEqual([...lists.values()], [["sip:bob@example.com", "sip:carol@example.com"], [], []]);
  });
});
