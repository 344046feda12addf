/**
 * The last line of defence of a long-running command: an exception no
 * handler caught, or a rejected promise nobody awaited, is logged at error
 * level with its stack and counted, and the process keeps serving. Every
 * such line is a bug to fix (the engines report their errors to their
 * callers); this only keeps one bug from taking a node off the network.
 */
import { describeError, type Logger } from "../base/index.js";

let installed: { logger: Logger; count: number } | undefined;

/** How many uncaught errors the process has survived. */
export function uncaughtErrors(): number {
  return installed?.count ?? 0;
}

/** Install the handlers once per process (later calls keep the first logger). */
export function installLastResort(logger: Logger): void {
  if (installed) return;
  const state = { logger, count: 0 };
  installed = state;
  const report = (kind: "uncaughtException" | "unhandledRejection") => (err: unknown) => {
    state.count++;
    state.logger.error({ kind, err: describeError(err), stack: err instanceof Error ? err.stack : undefined, count: state.count }, "uncaught error, still serving");
  };
  process.on("uncaughtException", report("uncaughtException"));
  process.on("unhandledRejection", report("unhandledRejection"));
}
