import { after, afterEach, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import type { ProvisioningClient } from "../../src/provisioning/index.js";
import { ProvisionedLab } from "../support/provisioned-lab.js";
import { describeRun, sipp, stopSipp } from "../support/sipp.js";
import { waitFor } from "../support/wait-for.js";
import { testNet } from "../support/slot.js";

/**
 * Provisioning end to end on testIp(30, 0)/24: three sip_proxy nodes (node1
 * also runs the provisioning API) serving the accounts of the announced
 * SQLite database. An account created through the API registers with
 * digest auth through every node; a password change
 * makes the old one fail and the new one work; a blocked account gets 403.
 */
const SUBNET = testNet(30);
const DOMAIN = "example.com";
const NODES = [`${SUBNET}.101`, `${SUBNET}.102`, `${SUBNET}.103`];
/** A change is pushed to the nodes at once (Thor.Provisioning): a generous deadline for a loaded machine; its latency is the provisioning benchmark's. */
const BOUND_MS = 30_000;

describe("provisioning end to end (API → nodes → SIP)", () => {
  let p: ProvisionedLab;
  let api: ProvisioningClient;

  before(async () => {
    p = await ProvisionedLab.start(SUBNET, DOMAIN);
    api = p.api;
  });

  // A failed test leaves no SIPp bound to its ports.
  afterEach(stopSipp);
  after(async () => {
    await p?.stop();
  });

  const register = (user: string, pass: string, node: string, scenario = "register.xml") => p.register(user, pass, node, scenario);

  it("an account created through the API registers through every node", async (t) => {
    const t0 = Date.now();
    await api.createAccount({ username: "erin", domain: DOMAIN, password: "erin-secret-1" });
    const took: number[] = [];
    for (const node of NODES) {
      await waitFor(async () => (await register("erin", "erin-secret-1", node)).code === 0, { timeoutMs: BOUND_MS, intervalMs: 50, message: `erin registers through ${node}` });
      took.push(Date.now() - t0);
    }
    t.diagnostic(`registered through the three nodes ${took.join(", ")} ms after the API call`);
    const r = await register("erin", "erin-secret-1", NODES[1]!);
    assert.equal(r.code, 0, describeRun("register", r));
  });

  it("after a password change the old password fails and the new one works, through every node", async () => {
    await api.updateAccount(`erin@${DOMAIN}`, { password: "erin-secret-2" });
    for (const node of NODES) {
      await waitFor(async () => (await register("erin", "erin-secret-2", node)).code === 0, { timeoutMs: BOUND_MS, intervalMs: 50, message: `new password works through ${node}` });
      const old = await register("erin", "erin-secret-1", node, "register-wrong-password.xml");
      assert.equal(old.code, 0, describeRun(`old password refused through ${node}`, old));
    }
  });

  it("a blocked account is refused with 403, and works again when unblocked", async () => {
    await api.updateAccount(`erin@${DOMAIN}`, { blocked: true });
    for (const node of NODES) {
      await waitFor(async () => (await register("erin", "erin-secret-2", node, "register-forbidden.xml")).code === 0, { timeoutMs: BOUND_MS, intervalMs: 50, message: `403 through ${node}` });
    }
    await api.createAccount({ username: "frank", domain: DOMAIN, password: "frank-secret" });
    const call = await sipp({ scenario: "uac-fail.xml", template: { "[final]": "403" }, localIp: `${SUBNET}.201`, localPort: p.nextPort(), remote: `${NODES[0]}:5060`, keys: { user: "erin", pass: "erin-secret-2", domain: DOMAIN, callee: "frank" }, timeoutS: 5 }).done;
    assert.equal(call.code, 0, describeRun("call from a blocked account", call));
    await api.updateAccount(`erin@${DOMAIN}`, { blocked: false });
    await waitFor(async () => (await register("erin", "erin-secret-2", NODES[2]!)).code === 0, { timeoutMs: BOUND_MS, intervalMs: 50, message: "unblocked" });
  });

  it("a deleted account no longer registers", async () => {
    await api.deleteAccount(`frank@${DOMAIN}`);
    for (const node of NODES) {
      await waitFor(async () => (await register("frank", "frank-secret", node, "register-wrong-password.xml")).code === 0, { timeoutMs: BOUND_MS, intervalMs: 50, message: `frank refused through ${node}` });
    }
  });

  it("the API reports the live membership and aggregated statistics", async () => {
    const status = (await api.networkStatus()) as { members: Array<{ ip: string; roles: string[] }> };
    assert.deepEqual(status.members.map((m) => m.ip).sort(), NODES);
    const stats = await waitFor(async () => {
      const s = (await api.networkStatistics()) as { members: number; roles: Record<string, { members: number; counters: Record<string, number> }> };
      return s.members === 3 && (s.roles["sip_proxy"]?.counters["subscribers"] ?? -1) >= 1 ? s : undefined;
    }, { timeoutMs: 15_000, message: "statistics from the three nodes" });
    assert.equal(stats.roles["sip_proxy"]?.members, 3);
    assert.equal(stats.roles["provisioning_server"]?.members, 1);
  });
});
