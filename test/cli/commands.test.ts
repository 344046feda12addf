import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { FORMATION_MS } from "../support/lab.js";
import { runThor } from "../support/processes.js";
import { LOCALHOST, testNet, testNetRe } from "../support/slot.js";

describe("thor command line", () => {
  it("thor demo forms the whole network, describes it in JSON and stops cleanly", async () => {
    const dir = mkdtempSync(join(tmpdir(), "thor-demo-"));
    try {
      const res = await runThor(["demo", "--dir", dir, "--subnet", testNet(6), "--exit-when-ready", "--timeout-ms", String(FORMATION_MS)], {}, FORMATION_MS + 60_000);
      assert.equal(res.code, 0, res.stdout + res.stderr);
      assert.match(res.stdout, /demo network is up/);
      assert.match(res.stdout, /active manager: mgr\d/);
      const path = /network description: (.+)/.exec(res.stdout)?.[1];
      assert.ok(path);
      const desc = JSON.parse(readFileSync(path, "utf8")) as {
        eventServers: Array<{ ip: string; ports: { events: number } }>;
        managers: unknown[];
        databases: unknown[];
        nodes: Array<{ name: string; ip: string; roles: string[]; ports: { lookup: number }; cert: string }>;
        ca: { cert: string };
        sip: { listeners: Array<{ node: string; ws?: string; wss?: string }> };
      };
      assert.equal(desc.eventServers.length, 3);
      assert.equal(desc.managers.length, 2);
      assert.equal(desc.databases.length, 1);
      assert.equal(desc.nodes.length, 3);
      assert.ok(desc.nodes.every((n) => n.ip.startsWith(`${testNet(6)}.`) && n.ports.lookup === 9500 && n.roles.includes("sip_proxy")));
      assert.match(readFileSync(desc.ca.cert, "utf8"), /BEGIN CERTIFICATE/);
      // Browser phones (README): every node's ws and wss URL.
      assert.ok(desc.sip.listeners.length === 3 && desc.sip.listeners.every((l) => new RegExp(String.raw`^ws:\/\/${testNetRe(6)}\.\d+:8088$`).test(l.ws ?? "") && new RegExp(String.raw`^wss:\/\/${testNetRe(6)}\.\d+:8089$`).test(l.wss ?? "")), JSON.stringify(desc.sip.listeners));
      // Where an operator looks: metrics, the web dashboard (and its token), the Nagios/Icinga checks.
      assert.match(res.stdout, new RegExp(String.raw`^metrics: +curl http:\/\/${testNetRe(6)}\.\d+:9100\/metrics`, "m"));
      assert.match(res.stdout, new RegExp(String.raw`^dashboard: http:\/\/${testNetRe(6)}\.40:9180\/ +\(sign in with the operator token in .+dashboard-token\)`, "m"));
      assert.match(res.stdout, /^checks: +node .+ check network /m);
      assert.match(res.stdout, /demo stopped/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("refuses an invalid configuration with exit code 2 and the reason", async () => {
    const dir = mkdtempSync(join(tmpdir(), "thor-badconf-"));
    try {
      const file = join(dir, "thor.toml");
      writeFileSync(file, `[node]\nip = "${LOCALHOST}"\nroles = ["Bad Role"]\nlookup_port = 99999\n`);
      const res = await runThor(["node", "--name", "n1", "--config", file, "--event-servers", `${LOCALHOST}:1`]);
      assert.equal(res.code, 2);
      assert.match(res.stderr, /invalid node configuration/);
      assert.match(res.stderr, /roles\.0: role names are lowercase/);
      assert.match(res.stderr, /lookup_port: .*65535/);
      const nolist = await runThor(["node", "--name", "n1", "--ip", LOCALHOST], { THOR_EVENT_SERVERS: "" });
      assert.equal(nolist.code, 2);
      assert.match(nolist.stderr, /no event servers: give event_servers/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("thor ca manages certificates from the command line", async () => {
    const dir = mkdtempSync(join(tmpdir(), "thor-cacli-"));
    try {
      assert.equal((await runThor(["ca", "init", "--dir", dir])).code, 0);
      const issued = await runThor(["ca", "issue", "node1", "--dir", dir, "--ip", "10.0.0.1", "--roles", "sip_proxy"]);
      assert.equal(issued.code, 0, issued.stderr);
      assert.match(issued.stdout, /issued node1 \(serial [0-9a-f]+\)/);
      const again = await runThor(["ca", "issue", "node1", "--dir", dir]);
      assert.equal(again.code, 1);
      assert.match(again.stderr, /THOR_PKI_EXISTS/);
      assert.equal((await runThor(["ca", "revoke", "node1", "--dir", dir])).code, 0);
      const listed = JSON.parse((await runThor(["ca", "list", "--dir", dir, "--json"])).stdout) as Array<{ name: string; status: string }>;
      assert.deepEqual(listed.map((c) => `${c.name}:${c.status}`), ["node1:revoked"]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
