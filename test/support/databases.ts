/**
 * Throwaway databases for tests and benchmarks: a SQLite file in a temp
 * directory, or a PostgreSQL database with a random name on the machine's
 * server (localhost, port 5432, trust auth), dropped afterwards.
 */
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { LOCALHOST } from "./slot.js";

export const PG_ADMIN_URI = process.env["THOR_TEST_PG"] ?? `postgres://postgres@${LOCALHOST}:5432/test`;

export interface TestDatabase {
  kind: "sqlite" | "postgres";
  uri: string;
  drop(): Promise<void>;
}

export async function createTestDatabase(kind: "sqlite" | "postgres", prefix = "thor_prov"): Promise<TestDatabase> {
  if (kind === "sqlite") {
    const dir = mkdtempSync(join(tmpdir(), `${prefix}-`));
    return { kind, uri: `sqlite://${join(dir, "thor.db")}`, drop: async () => rmSync(dir, { recursive: true, force: true }) };
  }
  const name = `${prefix}_${randomBytes(5).toString("hex")}`;
  const admin = new pg.Client({ connectionString: PG_ADMIN_URI });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  const u = new URL(PG_ADMIN_URI);
  u.pathname = `/${name}`;
  return {
    kind,
    uri: u.toString(),
    drop: async () => {
      const c = new pg.Client({ connectionString: PG_ADMIN_URI });
      await c.connect();
      try {
        await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      } finally {
        await c.end();
      }
    },
  };
}
