import { after, afterEach, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { Lab } from "../support/lab.js";
import { describeRun, sipp, stopSipp } from "../support/sipp.js";
import { waitFor } from "../support/wait-for.js";
import { testNet } from "../support/slot.js";
import { startLab } from "../support/sip-cluster-lab.js";

/**
 * Issue 15 item 4: two nodes dying together lose no registration when each
 * is held by three nodes (`--replicas 3`): 5 nodes, 100 registered users,
 * SIGKILL two nodes at once; the three left hold every binding again (the
 * survivors hand each AOR to its new holders). testIp(191, 0)/24.
 */
const SUB = testNet(191);
const DOMAIN = "example.com";
const COUNT = 100;
const REPLICAS = 3;
const password = (u: string) => `${u}-secret`;
const users = Array.from({ length: COUNT }, (_, i) => `k${i}`);

describe("two nodes killed at once, three replicas", () => {
  let lab: Lab;
  const bindings = (id: string, since: number) => {
    const r = lab.view.statistics.get(id);
    return r && r.at > since ? r.roles["sip_proxy"]?.["bindings"] : undefined;
  };
  const total = (since: number, ids: string[]) => ids.reduce((s, id) => s + (bindings(id, since) ?? 0), 0);
  const expectTotal = (since: number, ids: string[], want: number) => () => {
    if (total(since, ids) !== want) throw new Error(`have ${ids.map((id) => `${id}=${bindings(id, since) ?? "not yet published"}`).join(" ")}`);
    return true;
  };

  before(async () => {
    lab = await Lab.create({ subnet: SUB, eventServers: 1, managers: 1, nodes: [["sip_proxy"], ["sip_proxy"], ["sip_proxy"], ["sip_proxy"], ["sip_proxy"]] });
    writeFileSync(lab.plan.usersFile, users.map((u) => `[[users]]\nusername = "${u}"\npassword = "${password(u)}"\n`).join("\n"));
    await startLab(lab, 5, ["--replicas", String(REPLICAS), "--sip-rate", "100000", "--statistics-interval-ms", "1000"]);
  });

  // A failed test leaves no SIPp bound to its ports.
  afterEach(stopSipp);
  after(async () => {
    await lab?.stop();
  });

  it("loses no registration", async () => {
    const node1 = lab.of("node")[0]!;
    const csv = join(lab.plan.dir, "users.csv");
    writeFileSync(csv, "SEQUENTIAL\n" + users.map((u) => `${u};[authentication username=${u} password=${password(u)}]`).join("\n") + "\n");
    const reg = await sipp({ scenario: "register-csv.xml", localIp: `${SUB}.200`, localPort: 5071, remote: `${node1.ip}:5060`, inf: csv, keys: { domain: DOMAIN, contact_host: `${SUB}.200:6000`, expires: "3600" }, calls: COUNT, rate: 200, limit: 50, timeoutS: 60 }).done;
    assert.equal(reg.code, 0, describeRun("registrations", reg));
    const ids = lab.of("node").map((n) => n.name);
    const t0 = Date.now();
    await waitFor(expectTotal(t0, ids, REPLICAS * COUNT), { timeoutMs: 30_000, message: `${REPLICAS * COUNT} bindings (${REPLICAS} per AOR)` });

    // node4 and node5 die together.
    await Promise.all([lab.proc("node4").stop("SIGKILL", 1000), lab.proc("node5").stop("SIGKILL", 1000)]);
    await waitFor(() => lab.memberIds().join() === "node1,node2,node3", { timeoutMs: 30_000, message: "node4 and node5 gone" });
    const t1 = Date.now();
    // Three nodes left, three replicas: each holds every AOR.
    await waitFor(expectTotal(t1, ["node1", "node2", "node3"], REPLICAS * COUNT), { timeoutMs: 30_000, message: `${REPLICAS * COUNT} bindings on node1..node3` });
  });
});
