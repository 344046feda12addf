import { redactUri } from "../base/index.js";
import type { NetworkView } from "./network-view.js";

/**
 * Plain-text rendering of a {@link NetworkView} for `thor monitor`: a header
 * with the active manager and snapshot version, one row per member with its
 * roles and ring shares, the databases and the latest events.
 */
export function renderNetwork(view: NetworkView, opts: { width?: number; events?: number } = {}): string {
  const width = opts.width ?? 100;
  const lines: string[] = [];
  const snap = view.snapshot;
  const active = view.activeManager();
  lines.push(`sipthor network — ${new Date().toISOString()}`);
  lines.push(
    `active manager: ${active ? `${active.id} (${active.ip}) term ${active.term}` : "none"}   ` +
      `managers: ${[...view.managers.values()].map(({ hb }) => `${hb.id}${hb.active ? "*" : ""}`).join(" ") || "-"}`,
  );
  lines.push(snap ? `snapshot: epoch ${snap.epoch} seq ${snap.seq}, ${snap.members.length} member(s), by ${snap.manager}` : "snapshot: waiting for Thor.Members ...");
  lines.push("");
  const rows: string[][] = [["ID", "IP", "VERSION", "ROLES (ring share)", "PORTS", "STATE"]];
  for (const m of snap?.members ?? []) {
    const shares = view.shares(m);
    rows.push([
      m.id,
      m.ip,
      m.version,
      m.roles.map((r) => `${r} ${((shares[r] ?? 0) * 100).toFixed(1)}%`).join(", ") || "-",
      Object.entries(m.ports).map(([k, v]) => `${k}:${v}`).join(" ") || "-",
      m.attrs["draining"] === true ? "draining" : "up",
    ]);
  }
  lines.push(...table(rows, width));
  if (view.databases.size > 0) {
    lines.push("");
    lines.push("databases: " + [...view.databases.values()].map(({ ann }) => `${redactUri(ann.dburi)} (priority ${ann.priority}, ${ann.id})`).join("; "));
  }
  const n = opts.events ?? 10;
  if (n > 0) {
    lines.push("");
    lines.push("events:");
    for (const e of view.events.slice(-n)) lines.push(`  ${new Date(e.at).toISOString().slice(11, 23)}  ${e.text}`.slice(0, width));
  }
  return lines.join("\n");
}

function table(rows: string[][], width: number): string[] {
  const cols = rows[0]?.length ?? 0;
  const widths = Array.from({ length: cols }, (_, c) => Math.max(...rows.map((r) => (r[c] ?? "").length)));
  return rows.map((r) => r.map((cell, c) => (c === cols - 1 ? cell : cell.padEnd(widths[c] ?? 0))).join("  ").slice(0, width));
}
