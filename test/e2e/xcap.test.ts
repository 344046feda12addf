import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { RoleMap } from "../../src/overlay/index.js";
import { ProvisioningClient } from "../../src/provisioning/index.js";
import { Lab } from "../support/lab.js";
import { stopAllProcesses } from "../support/processes.js";
import { waitFor } from "../support/wait-for.js";
import { xcap } from "../support/xcap-client.js";
import { BUDDIES, RULES } from "../xcap/fixtures.js";
import { PresenceUa, pidf } from "../support/presence-ua.js";
import { testNet } from "../support/slot.js";

/**
 * XCAP end to end on testIp(151, 0)/24: three nodes (node1 also runs the
 * provisioning API, node3 the xcap_server) over the announced SQLite
 * database. An account created through the provisioning API reaches its
 * XCAP documents with its SIP credentials at once; each write is told to
 * the sip_proxy node responsible for the account, over the control link,
 * where pres-rules written through XCAP apply at once to the presence
 * watchers (a pending watcher becomes active).
 */
const SUBNET = testNet(151);
const DOMAIN = "example.com";

describe("XCAP end to end (provisioning → xcap_server → responsible sip_proxy)", () => {
  let lab: Lab;
  let api: ProvisioningClient;
  let root: string;

  /** Provision accounts whose password is `<user>-secret`. */
  async function accounts(...users: string[]): Promise<void> {
    for (const u of users) await api.createAccount({ username: u, domain: DOMAIN, password: `${u}-secret` });
  }

  /** Run `body` with a presence UA of each provisioned user at `node` (from `<subnet>.<host>`), closed after. */
  async function withUas<const U extends ReadonlyArray<readonly [number, string]>>(node: string, users: U, body: (uas: { [K in keyof U]: PresenceUa }) => Promise<void>): Promise<void> {
    const uas = users.map(([host, u]) => new PresenceUa(`${SUBNET}.${host}`, u, DOMAIN, `${u}-secret`, { host: node, port: 5060 }));
    await Promise.all(uas.map((u) => u.start()));
    try {
      await body(uas as { [K in keyof U]: PresenceUa });
    } finally {
      for (const u of uas) u.close();
    }
  }

  before(async () => {
    lab = await Lab.create({ subnet: SUBNET, nodes: [["sip_proxy", "provisioning_server"], ["sip_proxy"], ["sip_proxy", "xcap_server"]], subscribers: "database", sipDomain: DOMAIN });
    await lab.startAll();
    const prov = lab.plan.provisioning!;
    api = new ProvisioningClient({ url: prov.url, token: prov.token });
    await waitFor(() => api.createDomain({ name: DOMAIN }).then(() => true), { timeoutMs: 15_000, message: "database announced and writable" });
    root = lab.plan.xcap!.url;
    await waitFor(async () => (await xcap({ method: "GET", url: `${root}/xcap-caps/global/index` }).catch(() => ({ status: 0 }))).status === 200, { timeoutMs: 15_000, message: "XCAP server up" });
  });

  after(async () => {
    api?.close();
    await lab?.stop();
    await stopAllProcesses();
  });

  it("a provisioned account stores its buddy list and rules with its SIP credentials; the responsible node is told", async () => {
    await api.createAccount({ username: "frank", domain: DOMAIN, password: "frank-secret" });
    const user = { username: "frank", password: "frank-secret" };
    const lists = `${root}/resource-lists/users/sip:frank@${DOMAIN}/index`;
    const put = await waitFor(async () => {
      const r = await xcap({ method: "PUT", url: lists, body: BUDDIES, contentType: "application/resource-lists+xml", user });
      return r.status === 201 ? r : undefined;
    }, { timeoutMs: 5000, message: "frank writes his buddy list" });
    assert.equal(put.status, 201);
    const rules = await xcap({ method: "PUT", url: `${root}/pres-rules/users/sip:frank@${DOMAIN}/index`, body: RULES, contentType: "application/auth-policy+xml", user });
    assert.equal(rules.status, 201);
    const get = await xcap({ method: "GET", url: `${lists}/~~/resource-lists/list%5b@name=%22friends%22%5d/entry%5b1%5d/@uri`, user });
    assert.deepEqual([get.status, get.body], [200, "sip:bob@example.com"]);
    const members = lab.view.snapshot!.members;
    const responsible = RoleMap.fromMembers(members).successors("sip_proxy", `frank@${DOMAIN}`, 1)[0]!.id;
    const line = await lab.proc(responsible).waitForLog((l) => l["msg"] === "XCAP document changed" && l["aor"] === `frank@${DOMAIN}` && l["auid"] === "pres-rules", 10_000, "xcap.changed at the responsible node");
    assert.equal(line["from"], "node3");
    for (const m of members) if (m.id !== responsible) assert.ok(!lab.proc(m.id).logs.some((l) => l["msg"] === "XCAP document changed"), `${m.id} is not responsible for frank`);
  });

  it("another account is refused frank's documents; a blocked account everything", async () => {
    await api.createAccount({ username: "gina", domain: DOMAIN, password: "gina-secret" });
    const gina = { username: "gina", password: "gina-secret" };
    assert.equal((await xcap({ method: "GET", url: `${root}/resource-lists/users/sip:frank@${DOMAIN}/index`, user: gina })).status, 403);
    await api.updateAccount(`gina@${DOMAIN}`, { blocked: true });
    assert.equal((await xcap({ method: "GET", url: `${root}/resource-lists/users/sip:gina@${DOMAIN}/index`, user: gina })).status, 403);
  });

  it("a pending presence watcher becomes active when the presentity's pres-rules arrive through XCAP", async () => {
    await accounts("ivan", "bob");
    await withUas(lab.of("node")[1]!.ip, [[100, "ivan"], [101, "bob"]], async ([ivan, bob]) => {
      // The accounts reach the nodes through the change log within seconds.
      await waitFor(async () => (await ivan.publish(pidf(`sip:ivan@${DOMAIN}`, "open", "writing tests"))).status === 200, { timeoutMs: 20_000, message: "ivan publishes" });
      await waitFor(async () => (await bob.subscribe(`ivan@${DOMAIN}`)).status === 200, { timeoutMs: 20_000, message: "bob subscribes" });
      const pending = await bob.waitNotify(() => true, "the first NOTIFY");
      assert.match(pending.state, /^pending/, "no rules yet: confirm");
      assert.doesNotMatch(pending.body, /writing tests/);
      const rules = await xcap({ method: "PUT", url: `${root}/pres-rules/users/sip:ivan@${DOMAIN}/index`, body: RULES, contentType: "application/auth-policy+xml", user: { username: "ivan", password: "ivan-secret" } });
      assert.equal(rules.status, 201);
      const active = await bob.waitNotify((n) => n.state.startsWith("active"), "the NOTIFY of the activation", 10_000);
      assert.match(active.body, /writing tests/);
    });
  });

  it("xcap-diff (RFC 5875): the user's subscription lists their documents, then each XCAP write arrives as previous-etag / new-etag", async () => {
    await accounts("judy", "kate");
    const user = { username: "judy", password: "judy-secret" };
    const lists = `${root}/resource-lists/users/sip:judy@${DOMAIN}/index`;
    const sel = `resource-lists/users/sip:judy@${DOMAIN}/index`;
    const tag = (r: { headers: { etag?: string } }) => (r.headers.etag ?? "").replace(/"/g, "");
    const first = await waitFor(async () => {
      const r = await xcap({ method: "PUT", url: lists, body: BUDDIES, contentType: "application/resource-lists+xml", user });
      return r.status === 201 ? r : undefined;
    }, { timeoutMs: 5000, message: "judy writes her buddy list" });
    await withUas(lab.of("node")[0]!.ip, [[102, "judy"], [103, "kate"]], async ([judy, other]) => {
      const resources = `<?xml version="1.0"?><resource-lists xmlns="urn:ietf:params:xml:ns:resource-lists"><list><entry uri="resource-lists/users/sip:judy@${DOMAIN}/"/></list></resource-lists>`;
      await waitFor(async () => (await judy.subscribe(`judy@${DOMAIN}`, { event: "xcap-diff", expires: 600, body: resources, extra: [["Content-Type", "application/resource-lists+xml"], ["Accept", "application/xcap-diff+xml"]] })).status === 200, { timeoutMs: 20_000, message: "judy subscribes to her documents" });
      const full = await judy.waitNotify((n) => n.state.startsWith("active"), "the first xcap-diff NOTIFY");
      assert.equal(full.request.get("content-type"), "application/xcap-diff+xml");
      assert.match(full.body, new RegExp(`xcap-root="${root}/"`));
      assert.match(full.body, new RegExp(`<document sel="${sel}" new-etag="${tag(first)}"/>`));
      // Another user may not watch judy's documents.
      await waitFor(async () => (await other.subscribe(`judy@${DOMAIN}`, { event: "xcap-diff", expires: 600 })).status === 403, { timeoutMs: 20_000, message: "kate is refused judy's documents (403)" });
      const changed = await xcap({ method: "PUT", url: `${lists}/~~/resource-lists/list%5b@name=%22friends%22%5d/entry%5b1%5d/@uri`, body: "sip:dave@example.com", contentType: "application/xcap-att+xml", user });
      assert.equal(changed.status, 200);
      const diff = await judy.waitNotify((n) => n.body.includes("previous-etag"), "the xcap-diff NOTIFY of the write", 10_000);
      assert.match(diff.body, new RegExp(`<document sel="${sel}" previous-etag="${tag(first)}" new-etag="${tag(changed)}"/>`));
      assert.ok(diff.cseq > full.cseq);
    });
  });

  it("a buddy list stored through XCAP and used by pres-rules (external-list): a watcher added to the list becomes active", async () => {
    await accounts("laura", "mike", "nora");
    const buddies = `<?xml version="1.0" encoding="UTF-8"?><resource-lists xmlns="urn:ietf:params:xml:ns:resource-lists"><list name="friends"><entry uri="sip:nora@${DOMAIN}"/></list></resource-lists>`;
    const user = { username: "laura", password: "laura-secret" };
    const lists = `${root}/resource-lists/users/sip:laura@${DOMAIN}/index`;
    await waitFor(async () => (await xcap({ method: "PUT", url: lists, body: buddies, contentType: "application/resource-lists+xml", user })).status === 201, { timeoutMs: 5000, message: "laura writes her buddy list" });
    // Her friends list (an anchor into her own document) is allowed; everyone else of the domain waits for her.
    const anchor = `${lists}/~~/resource-lists/list%5b@name=%22friends%22%5d`;
    const rules = `<?xml version="1.0" encoding="UTF-8"?>
<cr:ruleset xmlns:cr="urn:ietf:params:xml:ns:common-policy" xmlns:pr="urn:ietf:params:xml:ns:pres-rules">
  <cr:rule id="friends"><cr:conditions><pr:external-list><pr:entry anc="${anchor}"/></pr:external-list></cr:conditions><cr:actions><pr:sub-handling>allow</pr:sub-handling></cr:actions></cr:rule>
  <cr:rule id="domain"><cr:conditions><cr:identity><cr:many domain="${DOMAIN}"/></cr:identity></cr:conditions><cr:actions><pr:sub-handling>confirm</pr:sub-handling></cr:actions></cr:rule>
</cr:ruleset>`;
    assert.equal((await xcap({ method: "PUT", url: `${root}/pres-rules/users/sip:laura@${DOMAIN}/index`, body: rules, contentType: "application/auth-policy+xml", user })).status, 201);
    await withUas(lab.of("node")[2]!.ip, [[104, "laura"], [105, "nora"], [106, "mike"]], async ([laura, nora, mike]) => {
      await waitFor(async () => (await laura.publish(pidf(`sip:laura@${DOMAIN}`, "open", "at the desk"))).status === 200, { timeoutMs: 20_000, message: "laura publishes" });
      // nora is on her friends list: active at once, with her state.
      await waitFor(async () => (await nora.subscribe(`laura@${DOMAIN}`, { expires: 600 })).status === 200, { timeoutMs: 20_000, message: "nora subscribes" });
      const b = await nora.waitNotify(() => true, "nora's first NOTIFY");
      assert.match(b.state, /^active/, "nora is in the buddy list the rules name");
      assert.match(b.body, /at the desk/);
      // mike is not: pending (the domain rule).
      await waitFor(async () => (await mike.subscribe(`laura@${DOMAIN}`, { expires: 600 })).status === 200, { timeoutMs: 20_000, message: "mike subscribes" });
      const m = await mike.waitNotify(() => true, "mike's first NOTIFY");
      assert.match(m.state, /^pending/);
      // laura adds mike to her friends through XCAP: the list changed, the rules apply to him at once.
      const add = await xcap({ method: "PUT", url: `${lists}/~~/resource-lists/list%5b@name=%22friends%22%5d/entry%5b@uri=%22sip:mike@${DOMAIN}%22%5d`, body: `<entry xmlns="urn:ietf:params:xml:ns:resource-lists" uri="sip:mike@${DOMAIN}"/>`, contentType: "application/xcap-el+xml", user });
      assert.equal(add.status, 201);
      const active = await mike.waitNotify((n) => n.state.startsWith("active"), "mike active after the list change", 10_000);
      assert.match(active.body, /at the desk/);
    });
  });
});
