import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { spawn } from "node:child_process";
import { sql, type Kysely } from "kysely";
import { migrateToLatest, openDatabase } from "../../src/db/index.js";

/**
 * Issue 15 item 6: several nodes that start together migrate the same
 * SQLite file at once. Every one of them must succeed (no error, no
 * warning) and the schema must be whole. Real processes, one file.
 */
const here = new URL(".", import.meta.url).pathname;

function migrateInChild(uri: string): Promise<{ code: number | null; out: string }> {
  const script = `import { migrateToLatest, openDatabase } from ${JSON.stringify(join(here, "../../src/db/index.js"))};
const d = openDatabase(${JSON.stringify(uri)});
try { const applied = await migrateToLatest(d.db, d.dialect); console.log(JSON.stringify(applied)); } finally { await d.close(); }`;
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ["--input-type=module", "-e", script], { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    child.stdout.on("data", (b: Buffer) => (out += b.toString()));
    child.stderr.on("data", (b: Buffer) => (out += b.toString()));
    child.on("exit", (code) => resolve({ code, out }));
  });
}

describe("SQLite migrations from several processes at once", () => {
  it("all succeed and each migration is applied exactly once", async () => {
    const dir = mkdtempSync(join(tmpdir(), "thor-migrate-"));
    try {
      for (let round = 0; round < 3; round++) {
        const uri = `sqlite://${join(dir, `race${round}.db`)}`;
        const runs = await Promise.all(Array.from({ length: 4 }, () => migrateInChild(uri)));
        for (const r of runs) assert.equal(r.code, 0, r.out);
        const applied = runs.flatMap((r) => JSON.parse(r.out.trim().split("\n").pop()!) as string[]);
        assert.deepEqual([...applied].sort(), ["0001_provisioning", "0002_xcap_documents", "0003_change_log"], "each migration applied once, by one of them");
        const d = openDatabase(uri);
        try {
          const rows = await sql<{ name: string }>`select name from kysely_migration order by name`.execute(d.db);
          assert.deepEqual(rows.rows.map((r) => r.name), ["0001_provisioning", "0002_xcap_documents", "0003_change_log"]);
          assert.deepEqual(await migrateToLatest(d.db as unknown as Kysely<unknown>, d.dialect), []);
        } finally {
          await d.close();
        }
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
