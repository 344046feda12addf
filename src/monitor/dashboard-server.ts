/**
 * The web dashboard (`thor dashboard`): one page (plain HTML, JS and SVG
 * from `assets/dashboard/`, no build step) that draws the network the
 * monitor's {@link NetworkView} follows, kept live with server-sent events.
 *
 * Routes:
 * - `GET /login` (public): a form for the operator token; `POST /login`
 *   checks it and sets the session cookie (HttpOnly, SameSite=Strict, Secure
 *   over HTTPS), then redirects to `/`.
 * - `GET /`, `/dashboard.js`, `/dashboard.css`: the page (operator only).
 * - `GET /api/state`: the {@link DashboardState} as JSON (operator only).
 * - `GET /api/events`: `text/event-stream`, one `state` event at once and
 *   then after every change of the view, at most one per `pushIntervalMs`
 *   (the JSON is built once per push and shared by every client).
 *
 * Bounds: at most `maxClients` event streams (503 past it); a client whose
 * unsent data passes `maxBufferedBytes` is dropped (a stalled browser cannot
 * make the server hold states for it); the events in a state are the last
 * {@link DEFAULT_DASHBOARD_EVENTS}; the shared HTTP limits (body size,
 * timeouts, connections) apply to the rest. Read-only: no route changes the
 * network.
 */
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import type { TLSSocket } from "node:tls";
import { fileURLToPath } from "node:url";
import type { ServerResponse } from "node:http";
import type { Logger } from "../base/index.js";
import { createHttpApp, FailureThrottle, isLoopback, listenHttp, type FailureThrottleOptions, type HttpApp } from "../http/index.js";
import { DASHBOARD_COOKIE, type CertificateVerdict, type OperatorAuth } from "./dashboard-auth.js";
import { dashboardState, DEFAULT_DASHBOARD_EVENTS, type DashboardState } from "./dashboard-model.js";
import type { NetworkView } from "./network-view.js";
import type { FastifyReply } from "fastify";

/** Event streams served at once. @default 32 */
export const DEFAULT_DASHBOARD_MAX_CLIENTS = 32;
/** Fewest milliseconds between two pushes of the state. @default 250 */
export const DEFAULT_DASHBOARD_PUSH_INTERVAL_MS = 250;
/** A comment line on every stream this often, so that proxies and the browser keep it open. @default 15 s */
export const DEFAULT_DASHBOARD_HEARTBEAT_MS = 15_000;
/** Unsent bytes above which a stream's client is dropped. @default 4 MiB */
export const DEFAULT_DASHBOARD_MAX_BUFFERED_BYTES = 4 * 1024 * 1024;
/** Default listen address of `thor dashboard`. */
export const DEFAULT_DASHBOARD_LISTEN = "127.0.0.1:9180";

export class DashboardSettingsError extends Error {
  readonly code = "THOR_DASHBOARD_SETTINGS";
  override readonly name = "DashboardSettingsError";
}

export interface DashboardServerOptions {
  host: string;
  /** 0 picks a free port. */
  port: number;
  logger: Logger;
  view: NetworkView;
  auth: OperatorAuth;
  /**
   * Serve HTTPS with this certificate, asking clients for a certificate of
   * `ca` (checked by {@link DashboardServerOptions.checkCertificate}).
   */
  tls?: { cert: string | Buffer; key: string | Buffer; ca: string | Buffer; crl?: string | Buffer };
  /** The verdict on a TLS client (the PKI's CA, CRL and `OU=operator` check). */
  checkCertificate?: (socket: TLSSocket) => CertificateVerdict;
  /** Serve plain HTTP on a non-loopback address (tokens in clear). @default false */
  allowPlainHttp?: boolean;
  /** Where index.html, dashboard.js and dashboard.css are. @default the package's assets/dashboard */
  assetsDir?: string;
  /** @default DEFAULT_DASHBOARD_MAX_CLIENTS */
  maxClients?: number;
  /** Wrong tokens per source address before it gets 429 for a while. @default DEFAULT_AUTH_FAILURES in DEFAULT_AUTH_FAILURE_WINDOW_MS */
  throttle?: FailureThrottleOptions;
  /** @default DEFAULT_DASHBOARD_PUSH_INTERVAL_MS */
  pushIntervalMs?: number;
  /** @default DEFAULT_DASHBOARD_HEARTBEAT_MS */
  heartbeatMs?: number;
  /** @default DEFAULT_DASHBOARD_MAX_BUFFERED_BYTES */
  maxBufferedBytes?: number;
  /** @default DEFAULT_DASHBOARD_EVENTS */
  events?: number;
}

interface Asset {
  type: string;
  body: Buffer;
}

const SECURITY_HEADERS: Record<string, string> = {
  "content-security-policy": "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
  "cache-control": "no-store",
};

/** The dashboard's page files: `assets/dashboard/` of the package, found from this module (dist/src/monitor or src/monitor). */
export function findDashboardAssets(start = dirname(fileURLToPath(import.meta.url))): string {
  let dir = start;
  for (let i = 0; i < 6; i++) {
    const candidate = join(dir, "assets", "dashboard");
    if (existsSync(join(candidate, "index.html"))) return candidate;
    const up = dirname(dir);
    if (up === dir) break;
    dir = up;
  }
  throw new DashboardSettingsError(`the dashboard's page (assets/dashboard/index.html) was not found above ${start}`);
}

function loadAssets(dir: string): Map<string, Asset> {
  const files: Array<[string, string, string]> = [
    ["/", "index.html", "text/html; charset=utf-8"],
    ["/dashboard.js", "dashboard.js", "text/javascript; charset=utf-8"],
    ["/dashboard.css", "dashboard.css", "text/css; charset=utf-8"],
    ["/login", "login.html", "text/html; charset=utf-8"],
  ];
  return new Map(files.map(([route, file, type]) => [route, { type, body: readFileSync(join(dir, file)) }]));
}

export class DashboardServer {
  private app: HttpApp | undefined;
  private readonly clients = new Set<ServerResponse>();
  private bound: { host: string; port: number } | undefined;
  private offView: (() => void) | undefined;
  private pushTimer: NodeJS.Timeout | undefined;
  private heartbeat: NodeJS.Timeout | undefined;
  private lastPush = 0;
  private readonly counters = { pushes: 0, refused: 0, dropped: 0, unauthorized: 0, throttled: 0 };
  private readonly throttle: FailureThrottle;

  constructor(private readonly opts: DashboardServerOptions) {
    this.throttle = new FailureThrottle(opts.throttle);
  }

  get address(): { host: string; port: number } | undefined {
    return this.bound;
  }

  /** `http(s)://host:port` once started. */
  get url(): string {
    if (!this.bound) throw new Error("dashboard not started");
    const host = this.bound.host.includes(":") ? `[${this.bound.host}]` : this.bound.host;
    return `${this.opts.tls ? "https" : "http"}://${host}:${this.bound.port}`;
  }

  /** Event streams open now. */
  get clientCount(): number {
    return this.clients.size;
  }

  /** Pushes sent, streams refused (too many), dropped (too slow), requests refused (401/403). */
  get stats(): Readonly<typeof this.counters> {
    return this.counters;
  }

  /** The state as the page gets it. */
  state(): DashboardState {
    return dashboardState(this.opts.view, { now: Date.now(), events: this.opts.events ?? DEFAULT_DASHBOARD_EVENTS });
  }

  async start(): Promise<{ host: string; port: number; url: string }> {
    const { host } = this.opts;
    if (!this.opts.tls && !this.opts.allowPlainHttp && !isLoopback(host)) {
      throw new DashboardSettingsError(`plain HTTP on ${host} would send the operator token in clear: serve HTTPS (a certificate of the operator CA), listen on a loopback address, or allow plain HTTP explicitly`);
    }
    const assets = loadAssets(this.opts.assetsDir ?? findDashboardAssets());
    const app = createHttpApp({ logger: this.opts.logger, bodyLimit: 4096, ...(this.opts.tls ? { tls: { ...this.opts.tls, requestCert: true } } : {}) });
    app.addContentTypeParser("application/x-www-form-urlencoded", { parseAs: "string" }, (_req, body, done) => {
      done(null, Object.fromEntries(new URLSearchParams(String(body))));
    });
    const secure = this.opts.tls !== undefined;
    const send = (route: string) => {
      const a = assets.get(route)!;
      return { headers: { ...SECURITY_HEADERS, "content-type": a.type }, body: a.body };
    };
    const authorize = (req: { headers: Record<string, string | string[] | undefined>; raw: { socket: unknown } }) => {
      const certificate: CertificateVerdict = secure && this.opts.checkCertificate ? this.opts.checkCertificate(req.raw.socket as TLSSocket) : { type: "none" };
      const h = (name: string) => {
        const v = req.headers[name];
        return Array.isArray(v) ? v[0] : v;
      };
      return this.opts.auth.decide({ authorization: h("authorization"), cookie: h("cookie"), certificate });
    };

    // Token guessing: after DEFAULT_AUTH_FAILURES wrong tokens a source address gets 429 for a while (as the provisioning API does).
    const throttled = (req: { ip: string }, reply: FastifyReply): FastifyReply | undefined => {
      const wait = this.throttle.blockedFor(req.ip);
      if (wait === 0) return undefined;
      this.counters.throttled++;
      return reply.code(429).headers({ ...SECURITY_HEADERS, "retry-after": String(wait) }).send({ error: `too many wrong tokens from ${req.ip}: try again in ${wait} s` });
    };
    app.addHook("onRequest", async (req, reply) => {
      const path = req.url.split("?")[0] ?? "";
      if (path === "/dashboard.css" || (path === "/login" && req.method === "GET")) return;
      if (throttled(req, reply)) return reply;
      if (path === "/login") return;
      const decision = authorize(req);
      if (decision.ok) {
        if (decision.via === "token") this.throttle.succeed(req.ip);
        return;
      }
      if (decision.wrongToken) this.throttle.fail(req.ip);
      this.counters.unauthorized++;
      void reply.headers(SECURITY_HEADERS);
      if (decision.status === 401) void reply.header("www-authenticate", 'Bearer realm="thor dashboard"');
      // A browser that opens the page is sent to the login form; scripts get the JSON reason.
      if (path === "/" && String(req.headers["accept"] ?? "").includes("text/html")) {
        return reply.code(decision.status).type("text/html; charset=utf-8").send(refusalPage(decision.status, decision.reason));
      }
      return reply.code(decision.status).send({ error: decision.reason });
    });

    for (const route of ["/", "/dashboard.js", "/dashboard.css", "/login"]) {
      app.get(route, async (_req, reply) => {
        const { headers, body } = send(route);
        return reply.headers(headers).send(body);
      });
    }
    app.post("/login", async (req, reply) => {
      const body = req.body as Record<string, unknown> | undefined;
      const token = typeof body?.["token"] === "string" ? body["token"] : "";
      void reply.headers(SECURITY_HEADERS);
      if (!this.opts.auth.verifyToken(token)) {
        this.throttle.fail(req.ip);
        this.counters.unauthorized++;
        return reply.code(401).type("text/html; charset=utf-8").send(refusalPage(401, "invalid operator token"));
      }
      this.throttle.succeed(req.ip);
      const cookie = `${DASHBOARD_COOKIE}=${encodeURIComponent(token)}; Path=/; HttpOnly; SameSite=Strict${secure ? "; Secure" : ""}`;
      return reply.code(303).header("set-cookie", cookie).header("location", "/").send();
    });
    app.get("/api/state", async (_req, reply) => reply.headers({ ...SECURITY_HEADERS, "content-type": "application/json; charset=utf-8" }).send(JSON.stringify(this.state())));
    app.get("/api/events", async (req, reply) => {
      if (this.clients.size >= (this.opts.maxClients ?? DEFAULT_DASHBOARD_MAX_CLIENTS)) {
        this.counters.refused++;
        return reply.code(503).header("retry-after", "10").send({ error: `too many dashboard clients (at most ${this.opts.maxClients ?? DEFAULT_DASHBOARD_MAX_CLIENTS})` });
      }
      reply.hijack();
      const res = reply.raw;
      // The stream lives as long as the page: no idle timeout on its socket (the heartbeat keeps it busy).
      req.raw.socket.setTimeout(0);
      res.writeHead(200, { ...SECURITY_HEADERS, "content-type": "text/event-stream; charset=utf-8", connection: "keep-alive", "x-accel-buffering": "no" });
      res.write(`retry: 2000\n\n`);
      this.clients.add(res);
      res.once("close", () => this.clients.delete(res));
      this.write(res, sseFrame("state", JSON.stringify(this.state())));
      return reply;
    });

    this.offView = this.opts.view.onChange(() => this.schedulePush());
    const addr = await listenHttp(app, host, this.opts.port);
    this.app = app;
    this.bound = { host: addr.address, port: addr.port };
    const beat = this.opts.heartbeatMs ?? DEFAULT_DASHBOARD_HEARTBEAT_MS;
    this.heartbeat = setInterval(() => {
      for (const res of this.clients) this.write(res, ": keep-alive\n\n");
    }, beat);
    this.heartbeat.unref();
    this.opts.logger.info({ url: this.url, tokens: this.opts.auth.tokenCount, certificates: secure }, "dashboard listening");
    return { ...this.bound, url: this.url };
  }

  async stop(): Promise<void> {
    this.offView?.();
    this.offView = undefined;
    if (this.pushTimer) clearTimeout(this.pushTimer);
    if (this.heartbeat) clearInterval(this.heartbeat);
    for (const res of this.clients) res.destroy();
    this.clients.clear();
    await this.app?.close();
    this.app = undefined;
  }

  /** Push the state to every stream now, or once the push interval since the last push has passed. */
  private schedulePush(): void {
    if (this.pushTimer || this.clients.size === 0) return;
    const wait = Math.max(0, this.lastPush + (this.opts.pushIntervalMs ?? DEFAULT_DASHBOARD_PUSH_INTERVAL_MS) - Date.now());
    this.pushTimer = setTimeout(() => {
      this.pushTimer = undefined;
      this.lastPush = Date.now();
      if (this.clients.size === 0) return;
      this.counters.pushes++;
      const frame = sseFrame("state", JSON.stringify(this.state()));
      for (const res of this.clients) this.write(res, frame);
    }, wait);
    this.pushTimer.unref();
  }

  private write(res: ServerResponse, frame: string): void {
    if (res.destroyed) return;
    if (res.writableLength > (this.opts.maxBufferedBytes ?? DEFAULT_DASHBOARD_MAX_BUFFERED_BYTES)) {
      this.counters.dropped++;
      this.opts.logger.warn({ buffered: res.writableLength }, "dashboard client does not read its event stream: dropped");
      this.clients.delete(res);
      res.destroy();
      return;
    }
    res.write(frame);
  }
}

/** One server-sent event; `data` is one JSON line (JSON.stringify never emits a newline). */
function sseFrame(event: string, data: string): string {
  return `event: ${event}\ndata: ${data}\n\n`;
}

function refusalPage(status: number, reason: string): string {
  const text = reason.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${status} - thor dashboard</title><link rel="stylesheet" href="/dashboard.css"></head><body class="refused"><main><h1>${status === 401 ? "401 Unauthorized" : "403 Forbidden"}</h1><p>${text}</p><p><a href="/login">Sign in with an operator token</a></p></main></body></html>`;
}
