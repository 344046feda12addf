import { after, afterEach, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { ProvisionedLab } from "../support/provisioned-lab.js";
import { describeRun, sipp, stopSipp } from "../support/sipp.js";
import { waitFor } from "../support/wait-for.js";
import { testNet } from "../support/slot.js";

/**
 * Issue 17, item 1: accounts provisioned in the database only (no users
 * file), the default two holders per account on the sip_proxy ring. A node
 * that holds no copy of an account authenticates its caller by asking the
 * account's holders (`sip.credentials`); when the account's responsible node
 * is killed, its replica answers, before and without the dead node leaving
 * the membership. The managers' member timeout is long here (60 s), so the
 * dead node stays on the ring for the whole test: the edge has to walk past
 * it to the replica. On testNet(33).
 */
const SUBNET = testNet(33);
const DOMAIN = "example.com";

describe("credentials of a killed node's accounts come from its replica", { timeout: 150_000 }, () => {
  let p: ProvisionedLab;

  before(async () => {
    p = await ProvisionedLab.start(SUBNET, DOMAIN, (m) => (m.kind === "manager" ? ["--member-timeout-ms", "60000"] : []));
  });

  afterEach(stopSipp);
  after(async () => {
    await p?.stop();
  });

  it("a node that holds no copy registers the caller through the replica after the responsible node is killed", async () => {
    const { lab, api } = p;
    const map = lab.view.roleMap;
    const apiNode = lab.plan.members.find((m) => m.roles.includes("provisioning_server"))!;
    // An account whose responsible node is not the API's, so the API outlives the kill.
    const user = Array.from({ length: 100 }, (_, i) => `rc${i}`).find((u) => map.successors("sip_proxy", `${u}@${DOMAIN}`, 2)[0]!.ip !== apiNode.ip)!;
    const holders = map.successors("sip_proxy", `${user}@${DOMAIN}`, 2);
    assert.equal(holders.length, 2);
    const [responsible, replica] = [holders[0]!, holders[1]!];
    const edge = lab.of("node").find((m) => m.ip !== responsible.ip && m.ip !== replica.ip)!;
    await api.createAccount({ username: user, domain: DOMAIN, password: `${user}-secret` });

    // The edge holds no copy: it asks the holders. Once the holders have loaded the account, it registers.
    await waitFor(async () => (await p.register(user, `${user}-secret`, edge.ip, "register.xml", 10)).code === 0, { timeoutMs: 20_000, intervalMs: 200, message: `${user} registers through ${edge.name} (a node that holds no copy)` });

    await lab.proc(responsible.id).stop("SIGKILL");
    assert.ok(lab.memberIds().includes(responsible.id), "the killed node is still a member (long member timeout)");
    const r = await p.register(user, `${user}-secret`, edge.ip, "register.xml", 10);
    assert.equal(r.code, 0, describeRun(`${user} through ${edge.name} with ${responsible.id} killed`, r));
    const wrong = await sipp({ scenario: "register-wrong-password.xml", localIp: `${SUBNET}.200`, localPort: p.nextPort(), remote: `${edge.ip}:5060`, keys: { user, pass: "not-the-password", domain: DOMAIN, contact: `sip:${user}@${SUBNET}.200:6999`, expires: "300" }, timeoutS: 10 }).done;
    assert.equal(wrong.code, 0, describeRun("a wrong password is still refused: the replica's credentials are checked", wrong));
    assert.ok(lab.memberIds().includes(responsible.id), "all of it while the dead node was still on the ring");
  });
});
