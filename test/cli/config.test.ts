import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { z } from "zod";
import { ConfigError, list, loadConfig, num } from "../../src/cli/config.js";

const schema = z.object({
  ip: z.string().min(2),
  roles: list(z.string()).default([]),
  lookupPort: num().int().min(0).max(65535).default(9500),
  eventServers: list(z.string()).default([]),
});

describe("configuration: defaults < TOML < environment < flags", () => {
  const dir = mkdtempSync(join(tmpdir(), "thor-config-"));
  const file = join(dir, "thor.toml");
  writeFileSync(file, 'event_servers = ["10.0.0.1:8000", "10.0.0.2"]\nip = "10.9.9.9"\n\n[node]\nip = "10.0.0.11"\nroles = ["sip_proxy"]\n');

  it("merges the layers in order", () => {
    assert.deepEqual(loadConfig(schema, { component: "node", file, env: {} }), { ip: "10.0.0.11", roles: ["sip_proxy"], lookupPort: 9500, eventServers: ["10.0.0.1:8000", "10.0.0.2"] });
    assert.equal(loadConfig(schema, { component: "manager", file, env: {} }).ip, "10.9.9.9", "top-level keys are shared");
    const env = { THOR_ROLES: "media_relay, sip_proxy", THOR_LOOKUP_PORT: "9600" };
    assert.deepEqual(loadConfig(schema, { component: "node", file, env }).roles, ["media_relay", "sip_proxy"]);
    assert.equal(loadConfig(schema, { component: "node", file, env, flags: { lookupPort: "9700", ip: undefined } }).lookupPort, 9700);
  });

  it("says which key is wrong and where it came from", () => {
    assert.throws(
      () => loadConfig(schema, { component: "node", file, env: { THOR_LOOKUP_PORT: "70000" } }),
      (err: unknown) => err instanceof ConfigError && /lookup_port: .*65535.* \[from environment THOR_LOOKUP_PORT\]/.test(err.message),
    );
    assert.throws(() => loadConfig(schema, { component: "node", env: {} }), /ip: .*\(not set\)/);
    const bad = join(dir, "bad.toml");
    writeFileSync(bad, "[node]\nroles = [\n");
    assert.throws(() => loadConfig(schema, { component: "node", file: bad, env: {} }), /cannot read config file/);
    const unknown = join(dir, "unknown.toml");
    writeFileSync(unknown, '[node]\nip = "10.0.0.1"\nrole = ["x"]\n');
    assert.throws(() => loadConfig(schema, { component: "node", file: unknown, env: {} }), /unknown key\(s\) in \[node\].*: role/);
  });

  it("cleans up", () => rmSync(dir, { recursive: true, force: true }));
});
