/**
 * Monitoring-plugins conventions (Nagios, Icinga, Naemon), pure: threshold
 * ranges, the status of a value against `-w`/`-c`, and the one status line
 * with performance data. See the Monitoring Plugins Development Guidelines,
 * "Threshold and ranges" and "Performance data".
 *
 * Range syntax: `10` alerts outside 0..10; `10:` below 10; `~:10` above 10;
 * `10:20` outside 10..20; `@10:20` inside 10..20. Nothing here throws except
 * {@link parseRange} on a malformed range (a usage error, exit 3).
 */

export const OK = 0;
export const WARNING = 1;
export const CRITICAL = 2;
export const UNKNOWN = 3;
export type PluginStatus = typeof OK | typeof WARNING | typeof CRITICAL | typeof UNKNOWN;
export const STATUS_NAMES = ["OK", "WARNING", "CRITICAL", "UNKNOWN"] as const;

export interface Range {
  readonly start: number;
  readonly end: number;
  /** `@`: alert when inside instead of outside. */
  readonly inside: boolean;
  /** The text as given, for the perfdata. */
  readonly text: string;
}

export class ThresholdRangeError extends Error {
  readonly code = "THOR_CHECK_RANGE";
}

export function parseRange(text: string): Range {
  const t = text.trim();
  const m = /^(@)?(?:(~|-?\d+(?:\.\d+)?)?:)?(-?\d+(?:\.\d+)?)?$/.exec(t);
  if (!m || t === "" || t === "@" || (m[2] === undefined && m[3] === undefined)) throw new ThresholdRangeError(`invalid threshold range "${text}" (e.g. 10, 10:, ~:10, 10:20, @10:20)`);
  const hasColon = t.includes(":");
  const start = !hasColon ? 0 : m[2] === "~" ? -Infinity : m[2] === undefined ? 0 : Number(m[2]);
  const end = m[3] === undefined ? Infinity : Number(m[3]);
  if (start > end) throw new ThresholdRangeError(`invalid threshold range "${text}": start above end`);
  return { start, end, inside: m[1] === "@", text: t };
}

/** True when `value` raises an alert for `range`. */
export function alerts(range: Range, value: number): boolean {
  const within = value >= range.start && value <= range.end;
  return range.inside ? within : !within;
}

/** CRITICAL if the critical range alerts, else WARNING if the warning range does, else OK. */
export function statusOf(value: number, warning?: Range, critical?: Range): PluginStatus {
  if (critical && alerts(critical, value)) return CRITICAL;
  if (warning && alerts(warning, value)) return WARNING;
  return OK;
}

export function worst(...s: PluginStatus[]): PluginStatus {
  // UNKNOWN ranks between WARNING and CRITICAL in practice only when nothing is critical.
  if (s.includes(CRITICAL)) return CRITICAL;
  if (s.includes(UNKNOWN)) return UNKNOWN;
  if (s.includes(WARNING)) return WARNING;
  return OK;
}

export interface PerfDatum {
  label: string;
  value: number;
  uom?: "" | "s" | "ms" | "%" | "B" | "c";
  warning?: Range;
  critical?: Range;
  min?: number;
  max?: number;
}

function perfLabel(label: string): string {
  const clean = label.replace(/['=]/g, "_");
  return /\s/.test(clean) ? `'${clean}'` : clean;
}

function perfNumber(n: number): string {
  return Number.isInteger(n) ? String(n) : n.toFixed(6).replace(/0+$/, "").replace(/\.$/, "");
}

export function formatPerfData(data: readonly PerfDatum[]): string {
  return data
    .map((d) => `${perfLabel(d.label)}=${perfNumber(d.value)}${d.uom ?? ""};${d.warning?.text ?? ""};${d.critical?.text ?? ""};${d.min === undefined ? "" : perfNumber(d.min)};${d.max === undefined ? "" : perfNumber(d.max)}`)
    .join(" ");
}

/** `SERVICE STATUS - text | perfdata` (one line, no pipe in the text). */
export function formatStatusLine(service: string, status: PluginStatus, text: string, perf: readonly PerfDatum[] = []): string {
  const body = text.replace(/\|/g, "/").replace(/\s*\n\s*/g, "; ");
  return `${service} ${STATUS_NAMES[status]} - ${body}${perf.length ? ` | ${formatPerfData(perf)}` : ""}`;
}
