/**
 * A real baresip user agent for end-to-end tests, configured with nothing but
 * its account (`sip:user@domain`) and a DNS server: it finds the platform
 * the RFC 3263 way (NAPTR, SRV, A). Commands go through its UDP console
 * module (`cons`), its output is collected to wait on.
 */
import { spawn, type ChildProcess } from "node:child_process";
import dgram from "node:dgram";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { waitFor } from "./wait-for.js";

export interface BaresipOptions {
  dir: string;
  /** Local address for SIP and the console. */
  ip: string;
  sipPort: number;
  consolePort: number;
  /** `ip:port` of the DNS server: the only network setting it gets. */
  dnsServer: string;
  user: string;
  domain: string;
  password: string;
}

export class Baresip {
  readonly child: ChildProcess;
  private out = "";
  readonly exited: Promise<void>;

  constructor(readonly opts: BaresipOptions) {
    const dir = join(opts.dir, `baresip-${opts.user}`);
    mkdirSync(dir, { recursive: true });
    writeFileSync(
      join(dir, "config"),
      [
        `sip_listen ${opts.ip}:${opts.sipPort}`,
        `dns_server ${opts.dnsServer}`,
        "module_path /usr/lib/baresip/modules",
        "module g711.so",
        "module aubridge.so",
        "module cons.so",
        `cons_listen ${opts.ip}:${opts.consolePort}`,
        "module_app account.so",
        "module_app menu.so",
        "audio_source aubridge,thor",
        "audio_player aubridge,thor",
        "audio_alert aubridge,thor",
        "",
      ].join("\n"),
    );
    // No outbound proxy, no server address: only the AOR's domain.
    writeFileSync(join(dir, "accounts"), `<sip:${opts.user}@${opts.domain};transport=udp>;auth_pass=${opts.password};answermode=auto;regint=600\n`);
    writeFileSync(join(dir, "contacts"), "");
    // Line-buffered: its output is what the test waits on.
    this.child = spawn("stdbuf", ["-oL", "-eL", "baresip", "-f", dir, "-4", ...(process.env["THOR_TEST_BARESIP_TRACE"] ? ["-v", "-s"] : [])], { stdio: ["ignore", "pipe", "pipe"] });
    this.child.stdout?.setEncoding("utf8").on("data", (c: string) => (this.out += c));
    this.child.stderr?.setEncoding("utf8").on("data", (c: string) => (this.out += c));
    this.exited = new Promise((r) => this.child.once("exit", () => r()));
  }

  get output(): string {
    return this.out;
  }

  async waitFor(re: RegExp, timeoutMs: number, what: string): Promise<void> {
    try {
      await waitFor(() => re.test(this.out), { timeoutMs, message: `baresip ${this.opts.user}: ${what}` });
    } catch (err) {
      throw new Error(`${(err as Error).message}; baresip output:\n${this.out.slice(-3000)}`);
    }
  }

  /** Send a console command such as `/dial sip:bob@example.com`. */
  async command(text: string): Promise<void> {
    const s = dgram.createSocket("udp4");
    await new Promise<void>((r) => s.send(Buffer.from(`${text}\n`), this.opts.consolePort, this.opts.ip, () => r()));
    s.close();
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    this.child.kill("SIGTERM");
    const t = setTimeout(() => this.child.kill("SIGKILL"), 3000);
    await this.exited;
    clearTimeout(t);
  }
}
