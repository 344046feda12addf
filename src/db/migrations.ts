/**
 * Schema migrations, in code, applied in name order by Kysely's Migrator;
 * several processes may run them at once (see `migrateToLatest`). One
 * definition serves both dialects; only the auto-increment key differs.
 */
import { Migrator, sql, type Kysely, type Migration, type MigrationProvider } from "kysely";
import type { Dialect } from "./connect.js";

function idColumn(dialect: Dialect) {
  return dialect === "postgres" ? ("serial" as const) : ("integer" as const);
}

function migrations(dialect: Dialect): Record<string, Migration> {
  const id = idColumn(dialect);
  return {
    "0001_provisioning": {
      async up(db: Kysely<unknown>) {
        await db.schema
          .createTable("domains")
          .addColumn("id", id, (c) => (dialect === "postgres" ? c.primaryKey() : c.primaryKey().autoIncrement()))
          .addColumn("name", "varchar(253)", (c) => c.notNull().unique())
          .addColumn("enabled", "integer", (c) => c.notNull().defaultTo(1))
          .addColumn("description", "varchar(1024)")
          .addColumn("created_at", "varchar(32)", (c) => c.notNull())
          .addColumn("updated_at", "varchar(32)", (c) => c.notNull())
          .execute();
        await db.schema
          .createTable("accounts")
          .addColumn("id", id, (c) => (dialect === "postgres" ? c.primaryKey() : c.primaryKey().autoIncrement()))
          .addColumn("username", "varchar(128)", (c) => c.notNull())
          .addColumn("domain", "varchar(253)", (c) => c.notNull().references("domains.name").onDelete("restrict"))
          .addColumn("ha1_md5", "varchar(32)", (c) => c.notNull())
          .addColumn("ha1_sha256", "varchar(64)", (c) => c.notNull())
          .addColumn("display_name", "varchar(256)")
          .addColumn("enabled", "integer", (c) => c.notNull().defaultTo(1))
          .addColumn("blocked", "integer", (c) => c.notNull().defaultTo(0))
          .addColumn("max_calls", "integer")
          .addColumn("quota", "integer")
          .addColumn("groups", "text", (c) => c.notNull().defaultTo("[]"))
          .addColumn("properties", "text", (c) => c.notNull().defaultTo("{}"))
          .addColumn("created_at", "varchar(32)", (c) => c.notNull())
          .addColumn("updated_at", "varchar(32)", (c) => c.notNull())
          .addUniqueConstraint("accounts_aor", ["username", "domain"])
          .execute();
        await db.schema.createIndex("accounts_domain").on("accounts").column("domain").execute();
        await db.schema
          .createTable("aliases")
          .addColumn("id", id, (c) => (dialect === "postgres" ? c.primaryKey() : c.primaryKey().autoIncrement()))
          .addColumn("kind", "varchar(8)", (c) => c.notNull())
          .addColumn("username", "varchar(128)", (c) => c.notNull())
          .addColumn("domain", "varchar(253)", (c) => c.notNull())
          .addColumn("account_id", "integer", (c) => c.notNull().references("accounts.id").onDelete("cascade"))
          .addColumn("created_at", "varchar(32)", (c) => c.notNull())
          .addUniqueConstraint("aliases_aor", ["username", "domain"])
          .execute();
        await db.schema.createIndex("aliases_account").on("aliases").column("account_id").execute();
        await db.schema
          .createTable("call_features")
          .addColumn("account_id", "integer", (c) => c.primaryKey().references("accounts.id").onDelete("cascade"))
          .addColumn("forward_unconditional", "varchar(512)")
          .addColumn("forward_busy", "varchar(512)")
          .addColumn("forward_no_answer", "varchar(512)")
          .addColumn("forward_no_answer_timeout", "integer")
          .addColumn("forward_unavailable", "varchar(512)")
          .addColumn("dnd", "integer", (c) => c.notNull().defaultTo(0))
          .addColumn("block_incoming", "text", (c) => c.notNull().defaultTo("[]"))
          .addColumn("block_outgoing", "text", (c) => c.notNull().defaultTo("[]"))
          .addColumn("updated_at", "varchar(32)", (c) => c.notNull())
          .execute();
        await db.schema
          .createTable("trusted_peers")
          .addColumn("id", id, (c) => (dialect === "postgres" ? c.primaryKey() : c.primaryKey().autoIncrement()))
          .addColumn("cidr", "varchar(64)", (c) => c.notNull().unique())
          .addColumn("description", "varchar(1024)")
          .addColumn("created_at", "varchar(32)", (c) => c.notNull())
          .execute();
        await db.schema
          .createTable("audit")
          .addColumn("id", id, (c) => (dialect === "postgres" ? c.primaryKey() : c.primaryKey().autoIncrement()))
          .addColumn("at", "varchar(32)", (c) => c.notNull())
          .addColumn("actor", "varchar(128)", (c) => c.notNull())
          .addColumn("action", "varchar(16)", (c) => c.notNull())
          .addColumn("entity", "varchar(32)", (c) => c.notNull())
          .addColumn("key", "varchar(512)", (c) => c.notNull())
          .addColumn("detail", "text")
          .execute();
        await db.schema.createIndex("audit_entity_key").on("audit").columns(["entity", "key"]).execute();
      },
      async down(db: Kysely<unknown>) {
        for (const t of ["audit", "trusted_peers", "call_features", "aliases", "accounts", "domains"]) await db.schema.dropTable(t).ifExists().execute();
      },
    },
    "0002_xcap_documents": {
      async up(db: Kysely<unknown>) {
        await db.schema
          .createTable("xcap_documents")
          .addColumn("id", id, (c) => (dialect === "postgres" ? c.primaryKey() : c.primaryKey().autoIncrement()))
          .addColumn("auid", "varchar(64)", (c) => c.notNull())
          .addColumn("xui", "varchar(512)", (c) => c.notNull())
          .addColumn("name", "varchar(512)", (c) => c.notNull())
          .addColumn("etag", "varchar(64)", (c) => c.notNull())
          .addColumn("doc", "text", (c) => c.notNull())
          .addColumn("size", "integer", (c) => c.notNull())
          .addColumn("updated_at", "varchar(32)", (c) => c.notNull())
          .addUniqueConstraint("xcap_documents_path", ["auid", "xui", "name"])
          .execute();
        await db.schema.createIndex("xcap_documents_xui").on("xcap_documents").column("xui").execute();
      },
      async down(db: Kysely<unknown>) {
        await db.schema.dropTable("xcap_documents").ifExists().execute();
      },
    },
    "0003_change_log": {
      async up(db: Kysely<unknown>) {
        await db.schema
          .createTable("change_log")
          .addColumn("seq", id, (c) => (dialect === "postgres" ? c.primaryKey() : c.primaryKey().autoIncrement()))
          .addColumn("at", "varchar(32)", (c) => c.notNull())
          .addColumn("aors", "text", (c) => c.notNull().defaultTo("[]"))
          .addColumn("domains", "text", (c) => c.notNull().defaultTo("[]"))
          .addColumn("trusted_peers", "integer", (c) => c.notNull().defaultTo(0))
          .execute();
        await db.schema.createIndex("change_log_at").on("change_log").column("at").execute();
      },
      async down(db: Kysely<unknown>) {
        await db.schema.dropTable("change_log").ifExists().execute();
      },
    },
  };
}

class CodeMigrations implements MigrationProvider {
  constructor(private readonly dialect: Dialect) {}
  async getMigrations(): Promise<Record<string, Migration>> {
    return migrations(this.dialect);
  }
}

/**
 * Bring the schema up to date; returns the names of the migrations applied
 * now. On PostgreSQL Kysely's Migrator takes an advisory lock. On SQLite it
 * takes none (one connection per process), so nodes that start together
 * would race on the file; the whole run is one `BEGIN IMMEDIATE`
 * transaction instead: the others wait on the file lock (busy timeout),
 * then find nothing pending, and a run that fails leaves no half schema.
 */
export async function migrateToLatest(db: Kysely<unknown>, dialect: Dialect): Promise<string[]> {
  const migrator = new Migrator({ db, provider: new CodeMigrations(dialect) });
  if (dialect === "sqlite") await sql`begin immediate`.execute(db);
  let outcome;
  try {
    outcome = await migrator.migrateToLatest();
  } catch (err) {
    if (dialect === "sqlite") await sql`rollback`.execute(db);
    throw err;
  }
  const { error, results } = outcome;
  if (dialect === "sqlite") await (error ? sql`rollback` : sql`commit`).execute(db);
  if (error) throw error instanceof Error ? error : new Error(String(error));
  return (results ?? []).filter((r) => r.status === "Success").map((r) => r.migrationName);
}
