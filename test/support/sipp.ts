import { spawn, type ChildProcess } from "node:child_process";
import net from "node:net";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { waitFor } from "./wait-for.js";

/** Scenario files live in test/sip/scenarios (not compiled: read from the source tree). */
export const SCENARIOS = fileURLToPath(new URL("../../../test/sip/scenarios/", import.meta.url));

export interface SippRun {
  code: number | null;
  stdout: string;
  stderr: string;
  /** The error log: its head and tail, 6000 characters in all. */
  errors: string;
  /** The message log (`-trace_msg`): whole up to 1 MiB, else its head and tail. */
  messages: string;
}

export interface SippOptions {
  scenario: string;
  /** Substitutions made in the scenario text before SIPp reads it (e.g. a status code in a recv). */
  template?: Record<string, string>;
  keys?: Record<string, string>;
  localIp: string;
  localPort: number;
  transport?: "u1" | "t1" | "l1";
  /** Remote host:port; omitted for a UAS. */
  remote?: string;
  calls?: number;
  rate?: number;
  /** Calls in flight at most (`-l`). */
  limit?: number;
  /** An injection file (`-inf`): per-call fields [field0], [field1], ... */
  inf?: string;
  /** Media (RTP echo) port SIPp binds (`-mp`); SIPp's default is 6000. */
  mediaPort?: number;
  timeoutS?: number;
  /** Run SIPp inside this network namespace (`ip netns exec`). */
  netns?: string;
}

const work = mkdtempSync(join(tmpdir(), "thor-sipp-"));
let seq = 0;

/** Every SIPp process started here that has not exited yet. */
const running = new Set<ChildProcess>();

// A test file that ends (or dies on an uncaught error) takes its SIPp processes with it.
process.once("exit", () => {
  for (const child of running) child.kill("SIGKILL");
});

/**
 * Kill (by PID) every SIPp process started through {@link sipp} that is still
 * running, and wait until they have exited: their ports are free again. Call
 * it in `afterEach` of a file that runs SIPp, so a failed test leaves nothing
 * bound for the next one.
 */
export async function stopSipp(): Promise<void> {
  await Promise.all(
    [...running].map(
      (child) =>
        new Promise<void>((resolve) => {
          if (child.exitCode !== null || child.signalCode !== null) return resolve();
          child.once("exit", () => resolve());
          child.kill("SIGKILL");
        }),
    ),
  );
}

/**
 * SIPp's own socket buffers are 64 KiB: on a loaded test host a SIPp that
 * waits for a CPU overflows them and loses datagrams, an ACK among them,
 * which no retransmission brings back in our scenarios. The kernel caps the
 * size at net.core.rmem_max / wmem_max.
 */
const BUFFERS = ["-buff_size", String(4 * 1024 * 1024)];

/**
 * A real SIPp process. Resolves when it exits; `code` 0 means every call of
 * the scenario succeeded. Its error and message logs are returned for
 * assertion messages. It is tracked until it exits: {@link stopSipp} kills
 * what is left (`ip netns exec` execs SIPp, so the PID is SIPp's there too).
 */
export function sipp(opts: SippOptions): { done: Promise<SippRun>; pid: number | undefined; kill(): void } {
  const n = ++seq;
  let text = readFileSync(join(SCENARIOS, opts.scenario), "utf8");
  for (const [k, v] of Object.entries(opts.template ?? {})) text = text.split(k).join(v);
  const file = join(work, `${n}-${opts.scenario}`);
  writeFileSync(file, text);
  const errors = join(work, `${n}-errors.log`);
  const messages = join(work, `${n}-messages.log`);
  const args = ["-sf", file, "-i", opts.localIp, "-p", String(opts.localPort), "-t", opts.transport ?? "u1", "-m", String(opts.calls ?? 1), "-nostdin", ...BUFFERS, "-timeout", `${opts.timeoutS ?? 20}s`, "-timeout_error", "-trace_err", "-error_file", errors, "-trace_msg", "-message_file", messages];
  if (opts.rate) args.push("-r", String(opts.rate));
  if (opts.limit) args.push("-l", String(opts.limit));
  if (opts.inf) args.push("-inf", opts.inf);
  if (opts.mediaPort) args.push("-mp", String(opts.mediaPort));
  for (const [k, v] of Object.entries(opts.keys ?? {})) args.push("-key", k, v);
  // [authentication] takes the credentials from -au/-ap (keywords cannot be nested in it).
  if (opts.keys?.["user"]) args.push("-au", opts.keys["user"]);
  if (opts.keys?.["pass"]) args.push("-ap", opts.keys["pass"]);
  // The digest uri names the Request-URI (RFC 3261 22.4); SIPp's default is the address it
  // sends to, which is the proxy only when nothing (a TLS relay) is in between. Runs whose
  // targets vary per call (-inf) keep the default.
  const domain = opts.keys?.["domain"];
  if (domain && !opts.inf) args.push("-auth_uri", opts.keys?.["callee"] ? `${opts.keys["callee"]}@${domain}` : domain);
  if (opts.remote) args.push(opts.remote);
  const child = opts.netns ? spawn("ip", ["netns", "exec", opts.netns, "sipp", ...args], { stdio: ["ignore", "pipe", "pipe"] }) : spawn("sipp", args, { stdio: ["ignore", "pipe", "pipe"] });
  running.add(child);
  child.once("exit", () => running.delete(child));
  let stdout = "";
  let stderr = "";
  child.stdout.setEncoding("utf8").on("data", (d: string) => (stdout = (stdout + d).slice(-20_000)));
  child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr = (stderr + d).slice(-20_000)));
  const read = (p: string, keep: number) => {
    try {
      const text = readFileSync(p, "utf8");
      return text.length <= keep ? text : `${text.slice(0, keep / 2)}\n[... ${text.length - keep} characters left out ...]\n${text.slice(-keep / 2)}`;
    } catch {
      return "";
    }
  };
  // The message log is kept whole up to 1 MiB: tests read the first INVITE from it, and on a loaded machine
  // retransmissions make a single call's log longer than any short tail (describeRun shows the tail).
  const done = new Promise<SippRun>((resolve) => child.once("exit", (code) => resolve({ code, stdout, stderr, errors: read(errors, 6000), messages: read(messages, 1 << 20) })));
  return { done, pid: child.pid, kill: () => child.kill("SIGKILL") };
}

/** Wait until something is bound to ip:port (SIPp UAS ready), by trying to bind it ourselves. */
export async function waitBound(transport: "udp" | "tcp", ip: string, port: number): Promise<void> {
  await waitFor(
    () =>
      new Promise<boolean>((resolve) => {
        if (transport === "tcp") {
          const s = net.connect(port, ip);
          s.once("connect", () => {
            s.destroy();
            resolve(true);
          });
          s.once("error", () => resolve(false));
          return;
        }
        // Read the kernel's socket table instead of probing with a bind: a probe
        // holding the port for a moment could make SIPp's own bind fail.
        resolve(udpBound(ip, port));
      }),
    { timeoutMs: 10_000, message: `${transport} ${ip}:${port} bound` },
  );
}

/** Whether a UDP socket is bound to ip:port (IPv4), from /proc/net/udp. */
function udpBound(ip: string, port: number): boolean {
  const hexIp = ip.split(".").map((o) => Number(o).toString(16).padStart(2, "0")).reverse().join("").toUpperCase();
  const want = `${hexIp}:${port.toString(16).padStart(4, "0").toUpperCase()}`;
  return readFileSync("/proc/net/udp", "utf8").split("\n").some((line) => line.trim().split(/\s+/)[1] === want);
}

export function describeRun(name: string, r: SippRun): string {
  return `${name}: sipp exited ${r.code}\n--- errors ---\n${r.errors}\n--- messages (the last 6000 characters) ---\n${r.messages.slice(-6000)}\n--- stderr ---\n${r.stderr}`;
}
