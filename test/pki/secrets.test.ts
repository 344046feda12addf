import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { chmodSync, mkdtempSync, readdirSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createSecret, initCa, listSecrets, loadSecrets, readSecretFile, retireSecret, watchSecrets } from "../../src/pki/index.js";
import { runThor } from "../support/processes.js";
import { waitFor } from "../support/wait-for.js";

/** The cluster secret: files next to the CA, 0600, rotated by adding and retiring keys. */
describe("cluster secrets (<ca_dir>/secrets)", () => {
  it("thor ca init creates one secret: 32 bytes, mode 0600 in a 0700 directory", async () => {
    const dir = mkdtempSync(join(tmpdir(), "thor-secrets-"));
    try {
      const res = await initCa(dir, { commonName: "t" });
      const [s] = listSecrets(dir);
      assert.equal(res.secretPath, s!.path);
      assert.equal(statSync(s!.path).size, 32);
      assert.equal(statSync(s!.path).mode & 0o777, 0o600);
      assert.equal(statSync(join(dir, "secrets")).mode & 0o777, 0o700);
      assert.equal(loadSecrets(dir)?.currentId, s!.kid);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("a new key signs once it is old enough to be everywhere; old ones verify until retired; the last one cannot be retired", () => {
    const dir = mkdtempSync(join(tmpdir(), "thor-secrets-"));
    try {
      const t = 1_800_000_000_000;
      const a = createSecret(dir, t);
      const b = createSecret(dir, t); // same second: still a newer id
      assert.ok(b.kid > a.kid);
      assert.deepEqual(listSecrets(dir).map((s) => s.kid), [b.kid, a.kid]);
      assert.deepEqual(loadSecrets(dir, t + 3_600_000)?.ids(), [b.kid, a.kid], "both active: the newest signs");
      const c = createSecret(dir, t + 3_600_000);
      assert.deepEqual(loadSecrets(dir, t + 3_600_000 + 60_000)?.ids(), [b.kid, c.kid, a.kid], "the new key verifies, the previous one still signs");
      assert.equal(loadSecrets(dir, t + 3_600_000 + 600_000)?.currentId, c.kid, "after the activation delay the new key signs");
      retireSecret(dir, c.kid);
      retireSecret(dir, a.kid);
      assert.deepEqual(loadSecrets(dir)?.ids(), [b.kid]);
      assert.throws(() => retireSecret(dir, b.kid), /only one/);
      assert.throws(() => retireSecret(dir, "zzzzzzz"), /no secret/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("a secret readable by others is refused", () => {
    const dir = mkdtempSync(join(tmpdir(), "thor-secrets-"));
    try {
      const s = createSecret(dir);
      chmodSync(s.path, 0o644);
      assert.throws(() => readSecretFile(s.path, s.kid), /readable by others/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("members re-read the directory: a new key takes over signing without a restart", async () => {
    const dir = mkdtempSync(join(tmpdir(), "thor-secrets-"));
    try {
      createSecret(dir, Date.now() - 7_200_000);
      const ring = loadSecrets(dir)!;
      const stop = watchSecrets(dir, ring, 20, () => undefined, 1000);
      try {
        const next = createSecret(dir);
        await waitFor(() => ring.ids().includes(next.kid), { timeoutMs: 3000, message: "new key read" });
        assert.notEqual(ring.currentId, next.kid, "it does not sign yet");
        await waitFor(() => ring.currentId === next.kid, { timeoutMs: 5000, message: "new key signing after the activation delay" });
      } finally {
        stop();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("thor ca secret new | list | retire", async () => {
    const dir = mkdtempSync(join(tmpdir(), "thor-secrets-"));
    try {
      const created = await runThor(["ca", "secret", "new", "--dir", dir]);
      assert.equal(created.code, 0, created.stderr);
      const first = readdirSync(join(dir, "secrets"))[0]!.replace(/\.key$/, "");
      await runThor(["ca", "secret", "new", "--dir", dir]);
      const listed = await runThor(["ca", "secret", "list", "--dir", dir]);
      assert.match(listed.stdout, new RegExp(`${first} .*verify only`));
      const retired = await runThor(["ca", "secret", "retire", first, "--dir", dir]);
      assert.equal(retired.code, 0, retired.stderr);
      assert.equal(listSecrets(dir).length, 1);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
