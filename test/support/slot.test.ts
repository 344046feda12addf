import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { LOCALHOST, MAX_SLOTS, SLOT, netnsPrefix, privateNet, slotPort, testIp, testNet } from "./slot.js";

/** The source tree's test/ (tests run compiled, from dist/test/support/). */
const TEST_DIR = fileURLToPath(new URL("../../../test/", import.meta.url));

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? sources(join(dir, e.name)) : e.name.endsWith(".ts") ? [join(dir, e.name)] : []));
}

describe("run slots (test/support/slot.ts)", () => {
  it("maps a test's addresses into this slot's own loopback /16, namespaces and private /16", () => {
    assert.equal(testNet(130), `127.${100 + SLOT}.130`);
    assert.equal(testIp(130, 7), `127.${100 + SLOT}.130.7`);
    assert.equal(privateNet(2), `10.${155 + SLOT}.2`);
    assert.equal(netnsPrefix(), `thorp${SLOT}-`);
    assert.equal(slotPort(30_000), 30_000 + 1000 * SLOT);
    assert.throws(() => testIp(256, 1), /octet/);
    assert.throws(() => slotPort(60_000), /no room/);
  });

  it("refuses a slot out of range", () => {
    for (const bad of [String(MAX_SLOTS), "-1", "x"]) {
      const probe = `import(${JSON.stringify(new URL("./slot.js", import.meta.url).href)})`;
      assert.throws(() => execFileSync(process.execPath, ["--input-type=module", "-e", `await ${probe}`], { env: { ...process.env, THOR_TEST_SLOT: bad }, stdio: "pipe" }), /THOR_TEST_SLOT must be an integer/);
    }
  });

  it("no test file hard-codes an address, namespace or subnet shared by every slot", () => {
    // Shared by all slots: 127.0.x.y (LOCALHOST with port 0 only), `thorp-` namespaces, 10.155.0.0/16.
    const shared = [/127\\?\.0\\?\.\d/, /\bthorp-/, /\b10\\?\.155\\?\./];
    const offenders: string[] = [];
    for (const file of sources(TEST_DIR)) {
      if (file.endsWith(join("support", "slot.ts")) || file.endsWith(join("support", "slot.test.ts"))) continue;
      readFileSync(file, "utf8")
        .split("\n")
        .forEach((line, i) => {
          if (shared.some((re) => re.test(line))) offenders.push(`${relative(TEST_DIR, file)}:${i + 1}: ${line.trim()}`);
        });
    }
    assert.deepEqual(offenders, [], `use testIp/testNet/privateNet/netnsPrefix/LOCALHOST from test/support/slot.ts (see test/README.md)`);
    assert.equal(LOCALHOST, "127.0.0.1");
  });
});
