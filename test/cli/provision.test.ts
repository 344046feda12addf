import { after, afterEach, describe, it } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { FORMATION_MS } from "../support/lab.js";
import { runThor, startThor, stopAllProcesses, type ThorProcess } from "../support/processes.js";
import { describeRun, sipp, stopSipp } from "../support/sipp.js";
import { waitFor } from "../support/wait-for.js";
import { testIp, testNet, testNetRe } from "../support/slot.js";

/**
 * `thor demo` on testIp(31, 0)/24 runs a provisioning server on its embedded
 * SQLite database, creates the demo accounts through it and names the API
 * and a token in network.json; `thor provision` creates an account with
 * them, which then registers.
 */
describe("thor demo with provisioning, thor provision", () => {
  const dir = mkdtempSync(join(tmpdir(), "thor-demo-prov-"));
  let demo: ThorProcess | undefined;

  // A failed test leaves no SIPp bound to its ports.
  afterEach(stopSipp);
  after(async () => {
    await demo?.stop("SIGINT", 15_000);
    await stopAllProcesses();
    rmSync(dir, { recursive: true, force: true });
  });

  it("creates the demo accounts through the API; thor provision adds one that registers", async () => {
    demo = startThor("demo", ["demo", "--dir", dir, "--subnet", testNet(31), "--timeout-ms", String(FORMATION_MS)]);
    const path = join(dir, "network.json");
    await waitFor(() => existsSync(path), { timeoutMs: FORMATION_MS, message: "network.json written" });
    const desc = JSON.parse(readFileSync(path, "utf8")) as { provisioning: { url: string; token: string; openapi: string }; accounts: Array<{ aor: string }>; commands: { provision: string } };
    assert.match(desc.provisioning.url, new RegExp(String.raw`^http:\/\/${testNetRe(31)}\.102:9280$`));
    assert.match(desc.commands.provision, /thor provision --api \S+ --token-file \S+ account add/);
    assert.ok(!desc.commands.provision.includes(desc.provisioning.token), "no token in the printed command");
    assert.equal(statSync(path).mode & 0o777, 0o600, "network.json holds passwords and the token: 0600");
    const env = { THOR_API_URL: desc.provisioning.url, THOR_PROVISIONING_TOKEN: desc.provisioning.token };

    const list = await runThor(["provision", "account", "list"], env);
    assert.equal(list.code, 0, list.stderr);
    for (const a of desc.accounts) assert.match(list.stdout, new RegExp(a.aor.replace(".", "\\.")));

    const add = await runThor(["provision", "account", "add", "zoe@example.com", "--password", "zoe-secret", "--display-name", "Zoe"], env);
    assert.equal(add.code, 0, add.stderr);
    assert.match(add.stdout, /account zoe@example\.com created/);
    const dup = await runThor(["provision", "account", "add", "zoe@example.com", "--password", "zoe-secret"], env);
    assert.equal(dup.code, 1);
    assert.match(dup.stderr, /THOR_PROVISIONING_CONFLICT \(409\)/);
    const bad = await runThor(["provision", "account", "list"], { ...env, THOR_PROVISIONING_TOKEN: "wrong-token-1234567890" });
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /THOR_PROVISIONING_UNAUTHORIZED \(401\)/);
    const alias = await runThor(["provision", "alias", "add", "+4930123456", "--to", "zoe@example.com", "--did"], env);
    assert.equal(alias.code, 0, alias.stderr);
    const show = await runThor(["provision", "--json", "account", "show", "zoe@example.com"], env);
    assert.equal((JSON.parse(show.stdout) as { displayName: string }).displayName, "Zoe");

    let port = 6300;
    await waitFor(
      async () => {
        const r = await sipp({ scenario: "register.xml", localIp: testIp(31, 200), localPort: port++, remote: `${testNet(31)}.103:5060`, keys: { user: "zoe", pass: "zoe-secret", domain: "example.com", contact: `sip:zoe@${testNet(31)}.200:6300`, expires: "300" }, timeoutS: 5 }).done;
        if (r.code !== 0) throw new Error(describeRun("register", r));
        return true;
      },
      { timeoutMs: 10_000, intervalMs: 100, message: "zoe registers" },
    );
  });
});
