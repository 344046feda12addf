import { spawn, type ChildProcess } from "node:child_process";
import { appendFileSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import net from "node:net";
import { join } from "node:path";
import { waitFor } from "./wait-for.js";
import { LOCALHOST } from "./slot.js";

/**
 * A real baresip user agent (Debian `baresip`), headless: its own config
 * directory (`-f`), no sound device (the in-memory aubridge module stands
 * in for microphone and speaker), driven through its `ctrl_tcp` module:
 * commands and events are JSON in netstrings on a TCP socket.
 * baresip 1.0 (libre) gives up on a 401/407 that carries any challenge
 * with an algorithm it does not know (SHA-256), so the server must offer
 * MD5 only to it.
 */
export interface BaresipOptions {
  name: string;
  /** Working directory; the config directory is created in it. */
  dir: string;
  ip: string;
  sipPort: number;
  ctrlPort: number;
  /** The accounts line, e.g. `<sip:alice@example.test>;auth_pass=...;outbound="sip:..."`. */
  account: string;
  rtpPorts: [number, number];
  /** A WAV file (8 kHz mono, see `writeToneWav`) the phone sends as its microphone (module aufile). @default none: no audio is sent */
  audioFile?: string;
  /**
   * Load the presence module (and the contact module it reads): the phone
   * PUBLISHes its state when the account has `pubint`, and SUBSCRIBEs to
   * every contact listed here (`"Bob" <sip:bob@example.test>`; `;presence=p2p`
   * is added). Its buddies' states are read with {@link Baresip.buddies}.
   * @default none: no presence
   */
  presenceContacts?: string[];
}

/** Write `seconds` of a 440 Hz tone as a WAV file (8 kHz, mono, 16-bit PCM) for `audioFile`. */
export function writeToneWav(path: string, seconds: number): void {
  const rate = 8000;
  const n = rate * seconds;
  const b = Buffer.alloc(44 + n * 2);
  b.write("RIFF", 0);
  b.writeUInt32LE(36 + n * 2, 4);
  b.write("WAVEfmt ", 8);
  b.writeUInt32LE(16, 16);
  b.writeUInt16LE(1, 20);
  b.writeUInt16LE(1, 22);
  b.writeUInt32LE(rate, 24);
  b.writeUInt32LE(rate * 2, 28);
  b.writeUInt16LE(2, 32);
  b.writeUInt16LE(16, 34);
  b.write("data", 36);
  b.writeUInt32LE(n * 2, 40);
  for (let i = 0; i < n; i++) b.writeInt16LE(Math.round(8000 * Math.sin((2 * Math.PI * 440 * i) / rate)), 44 + i * 2);
  writeFileSync(path, b);
}

export interface BaresipEvent {
  event: true;
  class?: string;
  type?: string;
  param?: string;
  peeruri?: string;
  accountaor?: string;
  [key: string]: unknown;
}

interface BaresipResponse {
  response: true;
  ok: boolean;
  data?: string;
  token?: string;
}

export class Baresip {
  readonly events: BaresipEvent[] = [];
  readonly output: string[] = [];
  private child: ChildProcess | undefined;
  private ctrl: net.Socket | undefined;
  private rest = Buffer.alloc(0);
  private readonly pending = new Map<string, (r: BaresipResponse) => void>();
  private nextToken = 1;
  private exited: Promise<void> = Promise.resolve();

  constructor(readonly opts: BaresipOptions) {}

  get configDir(): string {
    return join(this.opts.dir, this.opts.name);
  }

  async start(): Promise<void> {
    const o = this.opts;
    mkdirSync(this.configDir, { recursive: true });
    writeFileSync(
      join(this.configDir, "config"),
      [
        "poll_method epoll",
        `sip_listen ${o.ip}:${o.sipPort}`,
        // The local address for SIP and RTP (else the first interface's, where our loopback listener is not).
        `net_interface ${o.ip}`,
        o.audioFile ? `audio_source aufile,${o.audioFile}` : "audio_source aubridge,mic",
        "audio_player aubridge,speaker",
        "audio_alert aubridge,alert",
        "module_path /usr/lib/baresip/modules",
        "module g711.so",
        "module aubridge.so",
        ...(o.audioFile ? ["module aufile.so"] : []),
        "module_app account.so",
        ...(o.presenceContacts ? ["module_app contact.so", "module_app presence.so"] : []),
        "module_app menu.so",
        "module_app ctrl_tcp.so",
        `ctrl_tcp_listen ${o.ip}:${o.ctrlPort}`,
        `rtp_ports ${o.rtpPorts[0]}-${o.rtpPorts[1]}`,
        // No DNS is needed (the outbound proxy is an address); keep baresip away from the host's resolver.
        `dns_server ${LOCALHOST}:53`,
        "",
      ].join("\n"),
    );
    writeFileSync(join(this.configDir, "accounts"), `${o.account}\n`);
    writeFileSync(this.outputFile, "");
    writeFileSync(join(this.configDir, "contacts"), (o.presenceContacts ?? []).map((c) => `${c};presence=p2p\n`).join(""));
    const child = spawn("baresip", ["-f", this.configDir, "-v"], { stdio: ["ignore", "pipe", "pipe"] });
    this.child = child;
    const keep = (d: string) => {
      appendFileSync(this.outputFile, d);
      this.output.push(d);
      if (this.output.length > 400) this.output.splice(0, 100);
    };
    child.stdout!.setEncoding("utf8").on("data", keep);
    child.stderr!.setEncoding("utf8").on("data", keep);
    this.exited = new Promise((resolve) => child.once("exit", () => resolve()));
    this.ctrl = await waitFor(
      () =>
        new Promise<net.Socket | undefined>((resolve) => {
          if (child.exitCode !== null) throw new Error(`baresip ${o.name} exited ${child.exitCode}: ${this.log()}`);
          const s = net.connect(o.ctrlPort, o.ip);
          s.once("connect", () => resolve(s));
          s.once("error", () => resolve(undefined));
        }),
      { timeoutMs: 10_000, message: `baresip ${o.name} ctrl_tcp on ${o.ip}:${o.ctrlPort}` },
    );
    this.ctrl.on("data", (chunk: Buffer) => this.onData(chunk));
    this.ctrl.on("error", () => undefined);
  }

  private onData(chunk: Buffer): void {
    this.rest = Buffer.concat([this.rest, chunk]);
    for (;;) {
      const colon = this.rest.indexOf(":");
      if (colon < 0) return;
      const len = Number(this.rest.subarray(0, colon).toString("latin1"));
      if (!Number.isInteger(len) || this.rest.length < colon + 1 + len + 1) return;
      const payload = this.rest.subarray(colon + 1, colon + 1 + len).toString("utf8");
      this.rest = this.rest.subarray(colon + 2 + len);
      let msg: BaresipEvent | BaresipResponse;
      try {
        msg = JSON.parse(payload) as BaresipEvent | BaresipResponse;
      } catch {
        continue;
      }
      if ("event" in msg) this.events.push(msg);
      else if (msg.token !== undefined) this.pending.get(msg.token)?.(msg);
    }
  }

  /** Run a baresip command (`dial`, `hangup`, `reginfo`, ...) and return its answer. */
  command(command: string, params = ""): Promise<BaresipResponse> {
    const token = String(this.nextToken++);
    const text = JSON.stringify({ command, params, token });
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(token);
        reject(new Error(`baresip ${this.opts.name}: no answer to ${command}`));
      }, 5_000);
      this.pending.set(token, (r) => {
        clearTimeout(timer);
        this.pending.delete(token);
        resolve(r);
      });
      this.ctrl!.write(`${Buffer.byteLength(text)}:${text},`);
    });
  }

  waitEvent(type: string, timeoutMs = 10_000): Promise<BaresipEvent> {
    return waitFor(() => this.events.find((e) => e.type === type), { timeoutMs, message: `baresip ${this.opts.name}: event ${type} (seen: ${this.events.map((e) => e.type).join(", ")})` });
  }

  /** Where all its output is written (the `output` array keeps only the last part). */
  get outputFile(): string {
    return join(this.configDir, "output.log");
  }

  /** All it has written so far. */
  fullOutput(): string {
    return readFileSync(this.outputFile, "utf8");
  }

  log(): string {
    return this.output.join("").slice(-4000);
  }

  /** Quit (unregisters first), SIGKILL if it does not exit in time. */
  async stop(): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    this.ctrl?.destroy();
    child.kill("SIGTERM");
    const timer = setTimeout(() => child.kill("SIGKILL"), 5_000);
    await this.exited;
    clearTimeout(timer);
  }
}
