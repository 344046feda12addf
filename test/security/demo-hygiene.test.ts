/**
 * Issue 10, item 17: the demo's secrets are readable by their owner only
 * (directory 0700, users file, token files and network.json 0600), and API
 * tokens never appear on a command line (ps shows it to every user): the
 * nodes read them from a file, `thor provision` from a file or the
 * environment.
 */
import { after, describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { issueLabCertificates, planLab, writePrivateFile } from "../../src/cli/lab.js";
import { runThor } from "../support/processes.js";
import { testNet } from "../support/slot.js";

const mode = (p: string) => statSync(p).mode & 0o777;

describe("demo hygiene", { timeout: 60_000 }, () => {
  const dir = join(mkdtempSync(join(tmpdir(), "thor-sec-demo-")), "lab");
  after(() => rmSync(join(dir, ".."), { recursive: true, force: true }));

  it("the lab directory is 0700, the users and token files 0600, and no member's command line carries a token", async () => {
    const plan = planLab({ dir, subnet: testNet(121), subscribers: "database", dashboardPort: 9180 });
    await issueLabCertificates(plan);
    assert.ok(plan.provisioning);
    assert.equal(mode(dir), 0o700);
    assert.equal(mode(plan.usersFile), 0o600);
    assert.equal(mode(plan.provisioning.tokenFile), 0o600);
    assert.equal(mode(plan.provisioning.tokensFile), 0o600);
    for (const m of plan.members) assert.ok(!m.args.join(" ").includes(plan.provisioning.token), `${m.name}'s argv carries the API token`);
    assert.equal(readFileSync(plan.provisioning.tokenFile, "utf8").trim(), plan.provisioning.token);
    // The dashboard's operator token: a 0600 file, never on a command line.
    assert.ok(plan.dashboard);
    assert.equal(mode(plan.dashboard.tokenFile), 0o600);
    assert.equal(readFileSync(plan.dashboard.tokenFile, "utf8").trim(), plan.dashboard.token);
    for (const m of plan.members) assert.ok(!m.args.join(" ").includes(plan.dashboard.token), `${m.name}'s argv carries the dashboard token`);
  });

  it("a private file written over a world-readable one becomes 0600 (network.json is rewritten on each demo run)", () => {
    const p = join(dir, "network.json");
    writeFileSync(p, "{}", { mode: 0o644 });
    writePrivateFile(p, "{}\n");
    assert.equal(mode(p), 0o600);
  });

  it("a private file is replaced whole: a new file renamed over the old one, never the old one written in place", () => {
    // A script that waits for network.json and reads it at once read half of it once (8,192 bytes).
    const p = join(dir, "network.json");
    writePrivateFile(p, "{}\n");
    const before = statSync(p).ino;
    const text = JSON.stringify({ big: "x".repeat(100_000) });
    writePrivateFile(p, text);
    assert.notEqual(statSync(p).ino, before, "the path names a new file");
    assert.equal(readFileSync(p, "utf8"), text);
    assert.deepEqual(readdirSync(dir).filter((f) => f.includes(".tmp")), [], "no temporary file left");
  });

  it("thor provision takes the token from --token-file or the environment, and refuses it on the command line", async () => {
    const tokenFile = join(dir, "api-token");
    // Nothing listens on this address: the request fails after the token was read.
    const viaFile = await runThor(["provision", "--api", `http://${testNet(121)}.250:9`, "--token-file", tokenFile, "account", "list"], {}, 20_000);
    assert.doesNotMatch(viaFile.stderr, /unknown option|token file/, viaFile.stderr);
    const missing = await runThor(["provision", "--api", `http://${testNet(121)}.250:9`, "--token-file", join(dir, "nope"), "account", "list"], {}, 20_000);
    assert.notEqual(missing.code, 0);
    assert.match(missing.stderr, /cannot read the token file/);
    const onArgv = await runThor(["provision", "--api", `http://${testNet(121)}.250:9`, "--token", "secret-on-argv-0123456789", "account", "list"], {}, 20_000);
    assert.notEqual(onArgv.code, 0);
    assert.match(onArgv.stderr, /unknown option '--token'/);
  });
});
