import { after, afterEach, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { RoleMap } from "../../src/overlay/index.js";
import { Lab } from "../support/lab.js";
import { describeRun, sipp, stopSipp, waitBound } from "../support/sipp.js";
import { TcpUserAgent } from "../support/tcp-ua.js";
import { runThor } from "../support/processes.js";
import { waitFor } from "../support/wait-for.js";
import { testNet } from "../support/slot.js";
import { DOMAIN, freshBindings, password, startLab, writeUsers } from "../support/sip-cluster-lab.js";

/**
 * The distributed SIP service end to end: real `thor node` processes with
 * the sip_proxy role on testIp(51, 0)/24, SIPp and a scripted TCP client as
 * subscribers. Any node serves any subscriber; a call crosses at most two
 * nodes (the one it arrives on and the callee's edge); bindings are kept on
 * two holders and follow the ring.
 */
const SUBNET = testNet(51);
const USERS = ["alice", "bob", "carol", "dave", ...Array.from({ length: 60 }, (_, i) => `u${i}`)];

/** Node IPs named in the Via headers of the first INVITE a SIPp UAS logged. */
function nodesInPath(messages: string, nodeIps: readonly string[]): string[] {
  const invite = messages.slice(messages.indexOf("INVITE sip:"));
  const head = invite.slice(0, invite.indexOf("\n\n"));
  const vias = head.split("\n").filter((l) => /^Via:/i.test(l));
  return nodeIps.filter((ip) => vias.some((v) => v.includes(`${ip}:`)));
}

describe("distributed SIP service end to end", () => {
  let lab: Lab;
  const node = (i: number) => lab.of("node")[i]!;
  const map = () => RoleMap.fromMembers(lab.view.snapshot!.members);
  const holders = (user: string) => map().successors("sip_proxy", `${user}@${DOMAIN}`, 2).map((e) => e.id);
  const keys = (user: string, extra: Record<string, string> = {}) => ({ user, pass: password(user), domain: DOMAIN, ...extra });
  const bindingsOn = (id: string) => freshBindings(lab, id);

  before(async () => {
    lab = await Lab.create({ subnet: SUBNET, eventServers: 1, managers: 1, nodes: [["sip_proxy"], ["sip_proxy"], ["sip_proxy"]] });
    writeUsers(lab.plan.usersFile, USERS);
    await startLab(lab, 3, ["--min-expires", "1"]);
    await waitFor(() => lab.of("node").every((n) => bindingsOn(n.name) !== undefined), { timeoutMs: 10_000, message: "statistics of every node" });
  });

  // A failed test leaves no SIPp bound to its ports.
  afterEach(stopSipp);
  after(async () => {
    await lab?.stop();
  });

  async function register(user: string, via: string, ip: string, port: number, contact: string, expires = "3600"): Promise<void> {
    const r = await sipp({ scenario: "register.xml", localIp: ip, localPort: port, remote: `${via}:5060`, keys: keys(user, { contact, expires }) }).done;
    assert.equal(r.code, 0, describeRun(`register ${user} via ${via}`, r));
  }

  it("a call from a subscriber to one registered on another node crosses at most two nodes; re-INVITE and BYE work both ways", async () => {
    // bob registers on node3; alice calls through node2.
    await register("bob", node(2).ip, `${SUBNET}.60`, 5071, `sip:bob@${SUBNET}.60:5070`);
    for (const [uasScenario, uacScenario, name] of [
      ["uas.xml", "uac.xml", "caller hangs up"],
      ["uas-bye.xml", "uac-wait-bye.xml", "callee hangs up"],
      // In-dialog requests along the signed Record-Route of both nodes (issue 10 item 1).
      ["uas-reinvite.xml", "uac-reinvite.xml", "re-INVITE, then the caller hangs up"],
    ] as const) {
      const uas = sipp({ scenario: uasScenario, localIp: `${SUBNET}.60`, localPort: 5070, keys: { caller: "alice", callee: "bob", domain: DOMAIN } });
      await waitBound("udp", `${SUBNET}.60`, 5070);
      const uac = sipp({ scenario: uacScenario, localIp: `${SUBNET}.70`, localPort: 5080, remote: `${node(1).ip}:5060`, keys: keys("alice", { callee: "bob" }) });
      const [c, s] = await Promise.all([uac.done, uas.done]);
      assert.equal(c.code, 0, describeRun(`caller (${name})`, c));
      assert.equal(s.code, 0, describeRun(`callee (${name})`, s));
      const path = nodesInPath(s.messages, lab.of("node").map((n) => n.ip));
      assert.ok(path.length >= 1 && path.length <= 2, `nodes in the path: ${path.join(", ")} (${name}); what the callee logged:\n${s.messages.slice(0, 3000)}`);
      assert.ok(path.includes(node(1).ip) && path.includes(node(2).ip), `the call enters at node2 and leaves at bob's edge node3: ${path.join(", ")}`);
    }
    // The operator's view: bob's holders, each with his binding, reached through node3.
    const mon = lab.member("monitor");
    const res = await runThor(["location", "sip:bob@Example.COM", ...mon.args.slice(1), "--json"]);
    assert.equal(res.code, 0, res.stderr);
    const view = JSON.parse(res.stdout) as { aor: string; holders: Array<{ node: string; role: string; bindings: Array<{ uri: string; edge: string }> }> };
    assert.equal(view.aor, "bob@example.com");
    assert.deepEqual(view.holders.map((h) => h.node), holders("bob"));
    assert.equal(view.holders[0]!.role, "responsible");
    for (const h of view.holders) assert.deepEqual(h.bindings.map((b) => [b.uri, b.edge]), [[`sip:bob@${SUBNET}.60:5070`, "node3"]], `bindings on ${h.node}`);
  });

  it("a TCP client registered through node A, owned by node C, is reached over its own connection by a call arriving at node B", async () => {
    const ids = lab.of("node").map((n) => n.name);
    // A user whose responsible node is neither the edge (A = node1) nor the entry (B = node2).
    const user = USERS.find((u) => holders(u)[0] === ids[2])!;
    assert.ok(user, "some user is owned by node3");
    const ua = await TcpUserAgent.connect({ localAddress: `${SUBNET}.61`, server: node(0).ip, port: 5060, user, domain: DOMAIN, password: password(user) });
    try {
      assert.equal(await ua.register(), 200);
      const uac = sipp({ scenario: "uac.xml", localIp: `${SUBNET}.71`, localPort: 5080, remote: `${node(1).ip}:5060`, keys: keys("alice", { callee: user }) });
      const invite = await ua.waitRequest("INVITE");
      const vias = invite.getAll("via");
      assert.ok(vias.some((v) => v.includes(`${node(0).ip}:`)) && vias.some((v) => v.includes(`${node(1).ip}:`)), `via node2 then node1: ${vias.join(" | ")}`);
      assert.ok(!vias.some((v) => v.includes(`${node(2).ip}:`)), "the responsible node is not in the signalling path");
      ua.respond(invite, 200);
      await ua.waitRequest("BYE");
      const c = await uac.done;
      assert.equal(c.code, 0, describeRun("caller", c));
    } finally {
      ua.close();
    }
  });

  it("each binding is held by its responsible node and one replica; removed and expired bindings disappear on both", async () => {
    const since = Date.now();
    await waitFor(() => lab.of("node").every((n) => freshBindings(lab, n.name, since) !== undefined), { message: "fresh statistics" });
    const total = () => lab.of("node").reduce((sum, n) => sum + (freshBindings(lab, n.name, since) ?? 0), 0);
    const base = total();
    await register("carol", node(0).ip, `${SUBNET}.62`, 5071, `sip:carol@${SUBNET}.62:5070`);
    await register("dave", node(1).ip, `${SUBNET}.63`, 5071, `sip:dave@${SUBNET}.63:5070`, "2");
    await waitFor(() => total() === base + 4, { timeoutMs: 10_000, message: `${base + 4} bindings in all (2 new AORs × 2 holders), now ${total()}` });
    for (const id of holders("carol")) await waitFor(() => (bindingsOn(id) ?? 0) >= 1, { message: `carol held by ${id}` });
    // carol unregisters; dave's 2 s registration expires.
    await register("carol", node(2).ip, `${SUBNET}.62`, 5072, `sip:carol@${SUBNET}.62:5070`, "0");
    await waitFor(() => total() === base, { timeoutMs: 15_000, message: `back to ${base} bindings after removal and expiry, now ${total()}` });
  });
});
