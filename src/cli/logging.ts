import { pino, destination } from "pino";
import type { Logger } from "../base/index.js";

export type LogFormat = "json" | "pretty" | "auto";

export interface LoggingOptions {
  /** Component name, e.g. `eventserver`. */
  name: string;
  /** @default "info" */
  level?: string;
  /** `auto` is pretty on a terminal, JSON otherwise. @default "auto" */
  format?: LogFormat;
}

/** Create the process logger: structured JSON lines on stdout, or pretty on a TTY. */
export function createLogger(opts: LoggingOptions): Logger {
  const format = opts.format ?? "auto";
  const pretty = format === "pretty" || (format === "auto" && process.stdout.isTTY === true);
  const base = { level: opts.level ?? "info", name: opts.name };
  if (pretty) {
    return pino({
      ...base,
      transport: { target: "pino-pretty", options: { colorize: true, translateTime: "HH:MM:ss.l", ignore: "pid,hostname" } },
    });
  }
  return pino(base, destination({ sync: false }));
}
