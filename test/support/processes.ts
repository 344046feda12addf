import { spawn, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";
import { waitFor } from "./wait-for.js";

/** Absolute path of the `thor` entry point (tests run compiled, from dist/test/support/). */
export const THOR_BIN = fileURLToPath(new URL("../../../bin/thor.js", import.meta.url));

export interface LogLine {
  level?: number;
  msg?: string;
  [key: string]: unknown;
}

/**
 * A real `thor` process started by a test. Its JSON log lines are collected so
 * tests can wait on them; it is killed by PID when the test suite ends
 * ({@link stopAllProcesses}).
 */
export class ThorProcess {
  readonly child: ChildProcess;
  readonly logs: LogLine[] = [];
  readonly stderr: string[] = [];
  readonly exited: Promise<number | null>;
  private stdoutRest = "";

  constructor(
    readonly name: string,
    readonly args: readonly string[],
    env: NodeJS.ProcessEnv = {},
    /** Run inside this network namespace (`ip netns exec` execs the command: the PID is thor's). */
    netns?: string,
  ) {
    const argv = [process.execPath, THOR_BIN, ...args];
    this.child = spawn(netns ? "ip" : argv[0]!, netns ? ["netns", "exec", netns, ...argv] : argv.slice(1), {
      env: { ...process.env, THOR_LOG_FORMAT: "json", ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    this.child.stdout?.setEncoding("utf8").on("data", (chunk: string) => this.onStdout(chunk));
    this.child.stderr?.setEncoding("utf8").on("data", (chunk: string) => this.stderr.push(chunk));
    this.exited = new Promise((resolve) => this.child.once("exit", (code, signal) => resolve(code ?? (signal ? -1 : null))));
    running.add(this);
    void this.exited.then(() => running.delete(this));
  }

  get pid(): number {
    return this.child.pid ?? -1;
  }

  get alive(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  private onStdout(chunk: string): void {
    const text = this.stdoutRest + chunk;
    const lines = text.split("\n");
    this.stdoutRest = lines.pop() ?? "";
    for (const line of lines) {
      if (!line.trim()) continue;
      try {
        this.logs.push(JSON.parse(line) as LogLine);
      } catch {
        this.logs.push({ msg: line, raw: true });
      }
    }
  }

  /** Wait for a log line matching `pred`; returns it. */
  async waitForLog(pred: (line: LogLine) => boolean, timeoutMs = 15_000, what = "log line"): Promise<LogLine> {
    return waitFor(
      () => {
        if (!this.alive && !this.logs.some(pred)) {
          throw new Error(`${this.name} exited (${this.child.exitCode ?? this.child.signalCode}); stderr: ${this.stderr.join("").slice(-2000)}`);
        }
        return this.logs.find(pred);
      },
      { timeoutMs, message: `${this.name}: ${what}` },
    );
  }

  /** Send a signal and wait for exit. SIGKILL after `graceMs`. */
  async stop(signal: NodeJS.Signals = "SIGTERM", graceMs = 10_000): Promise<number | null> {
    if (!this.alive) return this.child.exitCode;
    this.child.kill(signal);
    const timer = setTimeout(() => this.child.kill("SIGKILL"), graceMs);
    try {
      return await this.exited;
    } finally {
      clearTimeout(timer);
    }
  }

  describe(): string {
    return `${this.name} (pid ${this.pid}) logs:\n${this.logs.slice(-30).map((l) => JSON.stringify(l)).join("\n")}\nstderr: ${this.stderr.join("").slice(-2000)}`;
  }
}

const running = new Set<ThorProcess>();

export function startThor(name: string, args: readonly string[], env?: NodeJS.ProcessEnv, netns?: string): ThorProcess {
  return new ThorProcess(name, args, env, netns);
}

/** Kill every process started through this module (by PID), waiting for them to exit. */
export async function stopAllProcesses(): Promise<void> {
  await Promise.all([...running].map((p) => p.stop("SIGKILL", 5_000)));
}

/** Run `thor` to completion; returns exit code, stdout and stderr. */
export function runThor(args: readonly string[], env: NodeJS.ProcessEnv = {}, timeoutMs = 60_000): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [THOR_BIN, ...args], { env: { ...process.env, THOR_LOG_FORMAT: "json", ...env }, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (c: string) => (stdout += c));
    child.stderr.setEncoding("utf8").on("data", (c: string) => (stderr += c));
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`thor ${args.join(" ")} timed out after ${timeoutMs} ms; stderr: ${stderr}`));
    }, timeoutMs);
    child.once("exit", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}
