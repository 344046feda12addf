/**
 * Open a database from the `dburi` that `thor database` announces:
 * `sqlite:///abs/path.db`, `sqlite://relative/path.db`, `sqlite://:memory:`,
 * or `postgres://user@host:port/db` (also `postgresql://`). Both give the
 * same `Kysely<ProvisioningSchema>`, so everything above is one code path.
 */
import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import BetterSqlite3 from "better-sqlite3";
import { Kysely, PostgresDialect, SqliteDialect, sql } from "kysely";
import pg from "pg";
import { redactUri } from "../base/index.js";
import { DbUriError } from "./errors.js";
import { DEFAULT_PG_CONNECT_TIMEOUT_MS, DEFAULT_PG_POOL_SIZE, DEFAULT_SQLITE_BUSY_TIMEOUT_MS } from "./options.js";
import type { ProvisioningSchema } from "./schema.js";

export type Dialect = "sqlite" | "postgres";

export interface ParsedDbUri {
  dialect: Dialect;
  /** File path (sqlite) or connection string (postgres). */
  target: string;
}

export function parseDbUri(uri: string): ParsedDbUri {
  if (uri.startsWith("sqlite://")) {
    const target = uri.slice("sqlite://".length);
    if (target === "") throw new DbUriError(`"${uri}": no file path (write sqlite:///absolute/path.db or sqlite://relative/path.db)`);
    return { dialect: "sqlite", target };
  }
  if (uri.startsWith("postgres://") || uri.startsWith("postgresql://")) {
    try {
      new URL(uri);
    } catch {
      throw new DbUriError(`"${redactUri(uri)}" is not a valid postgres:// URL`);
    }
    return { dialect: "postgres", target: uri };
  }
  throw new DbUriError(`unsupported database URI "${redactUri(uri)}": use sqlite:///path/to/file.db or postgres://user@host:port/database`);
}

export interface OpenOptions {
  /** @default 3000 */
  connectTimeoutMs?: number;
  /** @default 10 */
  poolSize?: number;
}

export interface Database {
  readonly uri: string;
  readonly dialect: Dialect;
  readonly db: Kysely<ProvisioningSchema>;
  close(): Promise<void>;
}

export function openDatabase(uri: string, opts: OpenOptions = {}): Database {
  const parsed = parseDbUri(uri);
  if (parsed.dialect === "sqlite") {
    let db: Kysely<ProvisioningSchema>;
    const file = parsed.target;
    db = new Kysely<ProvisioningSchema>({
      dialect: new SqliteDialect({
        database: async () => {
          if (file !== ":memory:") mkdirSync(dirname(file), { recursive: true });
          const conn = new BetterSqlite3(file, { timeout: DEFAULT_SQLITE_BUSY_TIMEOUT_MS });
          if (file !== ":memory:") conn.pragma("journal_mode = WAL");
          conn.pragma("foreign_keys = ON");
          conn.pragma("synchronous = NORMAL");
          return conn;
        },
      }),
    });
    return { uri, dialect: "sqlite", db, close: () => db.destroy() };
  }
  const pool = new pg.Pool({
    connectionString: parsed.target,
    max: opts.poolSize ?? DEFAULT_PG_POOL_SIZE,
    connectionTimeoutMillis: opts.connectTimeoutMs ?? DEFAULT_PG_CONNECT_TIMEOUT_MS,
  });
  // An idle client whose server went away emits 'error' on the pool: the next query reconnects.
  pool.on("error", () => undefined);
  // A checked-out client whose connection breaks emits 'error' too: the query in flight fails with it.
  pool.on("connect", (client) => client.on("error", () => undefined));
  const db = new Kysely<ProvisioningSchema>({ dialect: new PostgresDialect({ pool }) });
  return { uri, dialect: "postgres", db, close: () => db.destroy() };
}

/**
 * True when `err` says the database could not be reached or the connection
 * broke (rather than that the query itself was refused).
 */
/** Round-trip one trivial query; resolves with its time in ms, rejects when the database does not answer within `timeoutMs`. */
export async function pingDatabase(database: Database, timeoutMs = 2000): Promise<number> {
  const t0 = performance.now();
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      sql`select 1`.execute(database.db),
      new Promise((_r, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
  return performance.now() - t0;
}

export function isConnectionError(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  const code = (err as { code?: unknown }).code;
  if (typeof code === "string") {
    if (["ECONNREFUSED", "ECONNRESET", "ETIMEDOUT", "EHOSTUNREACH", "ENETUNREACH", "ENOTFOUND", "EPIPE", "EAI_AGAIN"].includes(code)) return true;
    // PostgreSQL class 08 (connection exception), 57P01..57P03 (shutdown, cannot connect now).
    if (/^08...$/.test(code) || /^57P0[1-3]$/.test(code)) return true;
    if (code === "SQLITE_CANTOPEN" || code.startsWith("SQLITE_IOERR")) return true;
  }
  return /Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error|connection is closed|Connection ended/i.test(err.message);
}

/** SQLSTATE / SQLite code of a constraint failure, classified. */
export function constraintKind(err: unknown): "unique" | "foreign-key" | undefined {
  if (!(err instanceof Error)) return undefined;
  const code = (err as { code?: unknown }).code;
  if (code === "23505" || code === "SQLITE_CONSTRAINT_UNIQUE" || code === "SQLITE_CONSTRAINT_PRIMARYKEY") return "unique";
  if (code === "23503" || code === "SQLITE_CONSTRAINT_FOREIGNKEY") return "foreign-key";
  return undefined;
}
