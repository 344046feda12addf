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

  before(async () => {
    lab = await Lab.create({ subnet: SUBNET, nodes: [["sip_proxy", "provisioning_server"], ["sip_proxy"], ["sip_proxy", "xcap_server"]], subscribers: "database", sipDomain: DOMAIN });
    await lab.startAll(90_000);
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
    await api.createAccount({ username: "ivan", domain: DOMAIN, password: "ivan-secret" });
    await api.createAccount({ username: "bob", domain: DOMAIN, password: "bob-secret" });
    const node = lab.of("node")[1]!;
    const ivan = new PresenceUa(`${SUBNET}.100`, "ivan", DOMAIN, "ivan-secret", { host: node.ip, port: 5060 });
    const bob = new PresenceUa(`${SUBNET}.101`, "bob", DOMAIN, "bob-secret", { host: node.ip, port: 5060 });
    await Promise.all([ivan.start(), bob.start()]);
    try {
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
    } finally {
      ivan.close();
      bob.close();
    }
  });
});
