/**
 * Browser phones for the interop tests: the page harness
 * (test/browser-page/phone.ts) bundled with esbuild, served over HTTP on a
 * loopback address (127/8 is a secure context: getUserMedia and
 * WebRTC work), and one Chromium page per phone, driven through
 * playwright-core with Debian's `/usr/bin/chromium`.
 *
 * Chromium runs with a fake microphone (a beep) and auto-granted media
 * permission, loopback ICE candidates allowed, and host names unresolvable
 * (a library's default public STUN server is not looked up: no traffic
 * leaves the machine). The `wss:` listeners' certificates (from the lab's
 * operator CA) are trusted by pinning their public keys
 * (`--ignore-certificate-errors-spki-list`): exactly those keys, nothing
 * else.
 */
import { createHash, X509Certificate } from "node:crypto";
import { existsSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";
import { chromium, type Browser, type Page } from "playwright-core";
import type { PhoneApi, PhoneConfig, PhoneState } from "./browser-phone-api.js";
import { waitFor } from "./wait-for.js";

export const CHROMIUM = "/usr/bin/chromium";
/** The page source (not compiled by tsc into dist: read from the source tree, like the SIPp scenarios). */
const PAGE_SOURCE = fileURLToPath(new URL("../../../test/browser-page/phone.ts", import.meta.url));

/** The base64 SHA-256 of a certificate's SubjectPublicKeyInfo, as Chromium's SPKI list wants it. */
export function spkiHash(certPem: string): string {
  const spki = new X509Certificate(certPem).publicKey.export({ type: "spki", format: "der" });
  return createHash("sha256").update(spki).digest("base64");
}

/** The page harness, bundled for the browser (JsSIP and SIP.js from node_modules). */
export async function bundlePhone(): Promise<string> {
  const out = await build({ entryPoints: [PAGE_SOURCE], bundle: true, write: false, format: "iife", platform: "browser", target: "chrome120", logLevel: "silent", define: { "process.env.NODE_ENV": '"production"' } });
  return out.outputFiles[0]!.text;
}

/** Serves the phone page and its bundle on `host`, port chosen by the system. */
export class PhonePageServer {
  private server: Server | undefined;
  url = "";

  async start(host: string): Promise<void> {
    const script = await bundlePhone();
    const html = `<!doctype html><meta charset="utf-8"><title>thor phone</title><script src="/phone.js"></script>`;
    this.server = createServer((req, res) => {
      if (req.url === "/phone.js") res.writeHead(200, { "content-type": "text/javascript" }).end(script);
      else if (req.url === "/") res.writeHead(200, { "content-type": "text/html" }).end(html);
      else res.writeHead(404).end();
    });
    await new Promise<void>((resolve, reject) => {
      this.server!.once("error", reject);
      this.server!.listen(0, host, () => resolve());
    });
    const a = this.server.address();
    if (!a || typeof a === "string") throw new Error("page server has no address");
    this.url = `http://${host}:${a.port}/`;
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}

/** Launch Chromium for browser phones; `pinnedCerts`: PEM certificates of the wss listeners to trust. */
export async function launchChromium(pinnedCerts: readonly string[]): Promise<Browser> {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} missing: run scripts/ensure-system-deps.sh (Debian chromium)`);
  const spki = [...new Set(pinnedCerts.map(spkiHash))].join(",");
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    timeout: 60_000,
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-dev-shm-usage",
      "--use-fake-device-for-media-stream",
      "--use-fake-ui-for-media-stream",
      "--allow-loopback-in-peer-connection",
      "--disable-features=WebRtcHideLocalIpsWithMdns",
      "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.*",
      ...(spki ? [`--ignore-certificate-errors-spki-list=${spki}`] : []),
    ],
  });
}

/** One browser phone: a Chromium page running JsSIP or SIP.js. */
export class BrowserPhone {
  private constructor(
    readonly name: string,
    readonly page: Page,
    readonly cfg: PhoneConfig,
  ) {}

  static async open(browser: Browser, pageUrl: string, name: string, cfg: PhoneConfig): Promise<BrowserPhone> {
    const context = await browser.newContext();
    const page = await context.newPage();
    const phone = new BrowserPhone(name, page, cfg);
    page.on("pageerror", (err) => phone.errors.push(err.message));
    await page.goto(pageUrl);
    await phone.invoke("start", cfg);
    return phone;
  }

  readonly errors: string[] = [];

  /** Call a method of the page's `thorPhone`. */
  async invoke<K extends keyof PhoneApi>(method: K, ...args: Parameters<PhoneApi[K]>): Promise<Awaited<ReturnType<PhoneApi[K]>>> {
    return this.page.evaluate(
      ([m, a]) => {
        const api = (globalThis as unknown as { thorPhone: Record<string, (...x: unknown[]) => Promise<unknown>> }).thorPhone;
        return api[m as string]!(...(a as unknown[]));
      },
      [method, args] as const,
    ) as Promise<Awaited<ReturnType<PhoneApi[K]>>>;
  }

  state(): Promise<PhoneState> {
    return this.invoke("state");
  }

  /** Wait until `check` holds on the phone's state; the failure message carries the phone's log. */
  async until(check: (s: PhoneState) => boolean, what: string, timeoutMs = 15_000): Promise<PhoneState> {
    let last: PhoneState | undefined;
    try {
      return await waitFor(
        async () => {
          last = await this.state();
          return check(last) ? last : undefined;
        },
        { timeoutMs, intervalMs: 200, message: `${this.name}: ${what}` },
      );
    } catch (err) {
      throw new Error(`${(err as Error).message}\nstate: ${JSON.stringify({ ...last, log: undefined })}\nlog:\n${(last?.log ?? []).join("\n")}\npage errors: ${this.errors.join("; ")}`);
    }
  }

  async close(): Promise<void> {
    await this.invoke("stop").catch(() => undefined);
    await this.page.context().close().catch(() => undefined);
  }
}
