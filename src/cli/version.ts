import { readFileSync } from "node:fs";

function readVersion(): string {
  for (const rel of ["../../package.json", "../../../package.json"]) {
    try {
      const pkg = JSON.parse(readFileSync(new URL(rel, import.meta.url), "utf8")) as { name?: string; version?: string };
      if (pkg.name === "sipthor" && pkg.version) return pkg.version;
    } catch {
      // try the next location (src/ under tsx, dist/src/ when built)
    }
  }
  return "0.0.0";
}

/** The package version, announced in every member's entity. */
export const VERSION = readVersion();
