import { readFileSync } from "node:fs";
import { parse as parseToml } from "smol-toml";
import { z } from "zod";
import { ThorError } from "../base/index.js";

/**
 * Configuration of long-running components: defaults < TOML file < environment
 * (`THOR_<KEY>`) < command-line flags, validated once by a zod schema.
 *
 * TOML keys and environment names are the schema's keys in snake_case
 * (`eventServers` ↔ `event_servers` ↔ `THOR_EVENT_SERVERS`). A TOML file may
 * hold one table per component (`[node]`, `[manager]`, ...) plus shared keys
 * at top level; the component's table overrides the shared keys.
 */
export class ConfigError extends ThorError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("THOR_CONFIG_INVALID", message, options);
  }
}

/** A list given as an array (TOML, flags) or a `separator`-separated string (env, flags). */
export function list<T extends z.ZodTypeAny>(item: T, separator = ",") {
  return z.preprocess((v) => {
    if (typeof v === "string") return v.split(separator).map((s) => s.trim()).filter((s) => s.length > 0);
    return v;
  }, z.array(item));
}

/** A number that may come as a string (env, flags). */
export function num() {
  return z.coerce.number().finite();
}

/** A boolean that may come as "true"/"false"/"1"/"0" (env). */
export function bool() {
  return z.preprocess((v) => {
    if (typeof v === "string") {
      if (/^(1|true|yes|on)$/i.test(v)) return true;
      if (/^(0|false|no|off)$/i.test(v)) return false;
    }
    return v;
  }, z.boolean());
}

export function snakeCase(key: string): string {
  return key.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
}

function camelCase(key: string): string {
  return key.replace(/[_-]([a-z0-9])/g, (_, c: string) => c.toUpperCase());
}

function camelKeys(obj: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(obj)) out[camelCase(k)] = v;
  return out;
}

export interface LoadConfigInput {
  /** Component name: the TOML table read in addition to top-level keys. */
  component: string;
  /** Path of the TOML file, if any. */
  file?: string | undefined;
  /** @default process.env */
  env?: NodeJS.ProcessEnv;
  /** Flags as parsed by commander (camelCase keys; undefined = not given). */
  flags?: Record<string, unknown>;
}

export function loadConfig<S extends z.ZodObject<z.ZodRawShape>>(schema: S, input: LoadConfigInput): z.infer<S> {
  const keys = Object.keys(schema.shape);
  const merged: Record<string, unknown> = {};
  const source: Record<string, string> = {};

  if (input.file) {
    let doc: Record<string, unknown>;
    try {
      doc = parseToml(readFileSync(input.file, "utf8")) as Record<string, unknown>;
    } catch (err) {
      throw new ConfigError(`cannot read config file ${input.file}: ${(err as Error).message}`, { cause: err });
    }
    const shared = camelKeys(doc);
    const table = doc[input.component];
    const own = table && typeof table === "object" && !Array.isArray(table) ? camelKeys(table as Record<string, unknown>) : {};
    for (const k of keys) {
      if (k in own) {
        merged[k] = own[k];
        source[k] = `${input.file} [${input.component}] ${snakeCase(k)}`;
      } else if (k in shared && (typeof shared[k] !== "object" || Array.isArray(shared[k]))) {
        merged[k] = shared[k];
        source[k] = `${input.file} ${snakeCase(k)}`;
      }
    }
    const unknown = Object.keys(own).filter((k) => !keys.includes(k));
    if (unknown.length > 0) {
      throw new ConfigError(`unknown key(s) in [${input.component}] of ${input.file}: ${unknown.map(snakeCase).join(", ")} (known: ${keys.map(snakeCase).join(", ")})`);
    }
  }

  const env = input.env ?? process.env;
  for (const k of keys) {
    const name = `THOR_${snakeCase(k).toUpperCase()}`;
    const v = env[name];
    if (v !== undefined && v !== "") {
      merged[k] = v;
      source[k] = `environment ${name}`;
    }
  }

  for (const [k, v] of Object.entries(input.flags ?? {})) {
    if (v !== undefined && keys.includes(k)) {
      merged[k] = v;
      source[k] = `flag --${snakeCase(k).replace(/_/g, "-")}`;
    }
  }

  const result = schema.safeParse(merged);
  if (!result.success) {
    const lines = result.error.issues.map((issue) => {
      const key = String(issue.path[0] ?? "");
      const where = source[key] ?? (key ? `${snakeCase(key)} (not set)` : "config");
      return `  ${issue.path.map(String).map(snakeCase).join(".") || "config"}: ${issue.message} [from ${where}]`;
    });
    throw new ConfigError(`invalid ${input.component} configuration:\n${lines.join("\n")}`);
  }
  return result.data;
}
