import type { Logger, LogFn } from "../../src/base/index.js";

export interface Entry {
  level: "debug" | "info" | "warn" | "error";
  msg: string;
  fields: Record<string, unknown>;
}

/** A Logger that records entries, so tests can wait on what a component logged. */
export class MemoryLogger implements Logger {
  constructor(
    readonly entries: Entry[] = [],
    private readonly bindings: Record<string, unknown> = {},
  ) {}

  private log(level: Entry["level"]): LogFn {
    return ((a: object | string, b?: string) => {
      if (typeof a === "string") this.entries.push({ level, msg: a, fields: { ...this.bindings } });
      else this.entries.push({ level, msg: b ?? "", fields: { ...this.bindings, ...(a as Record<string, unknown>) } });
    }) as LogFn;
  }

  debug = this.log("debug");
  info = this.log("info");
  warn = this.log("warn");
  error = this.log("error");

  child(bindings: Record<string, unknown>): Logger {
    return new MemoryLogger(this.entries, { ...this.bindings, ...bindings });
  }

  has(msg: string): boolean {
    return this.entries.some((e) => e.msg === msg);
  }
}
