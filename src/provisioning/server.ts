/**
 * The provisioning HTTP/JSON server (node:http, or node:https with a
 * certificate). Requests are authenticated with bearer tokens, bodies and
 * queries validated by the route's zod schemas, and every error mapped to a
 * JSON answer with a stable code in one place ({@link errorAnswer}).
 *
 * Security: plain HTTP is served on loopback addresses only, unless
 * `allowPlainHttp` says otherwise (tokens and account data would cross the
 * network in clear); failed token checks are throttled per source address
 * (429 with Retry-After, {@link FailureThrottle}); account answers never
 * carry HA1 (the service strips it).
 */
import http from "node:http";
import https from "node:https";
import type { Socket } from "node:net";
import { describeError, type Logger } from "../base/index.js";
import { requestChannel } from "./diagnostics.js";
import {
  BadJsonError,
  ForbiddenError,
  MethodNotAllowedError,
  NotFoundError,
  PayloadTooLargeError,
  ProvisioningError,
  TooManyRequestsError,
  UnauthorizedError,
  UnsafeSettingsError,
  UnsupportedMediaError,
  ValidationError,
} from "./errors.js";
import { buildOpenApi } from "./openapi.js";
import { DEFAULT_API_PORT } from "./options.js";
import { buildRoutes, type Route } from "./routes.js";
import { describeIssues } from "./schemas.js";
import type { ChangeReceipt, ProvisioningService } from "./service.js";
import type { NetworkStatusSource } from "./status.js";
import { TokenRing, type ApiToken } from "./tokens.js";
import { FailureThrottle, isLoopback, type FailureThrottleOptions } from "../http/index.js";

export interface ProvisioningServerOptions {
  service: ProvisioningService;
  tokens: readonly ApiToken[];
  logger: Logger;
  status?: NetworkStatusSource;
  /** @default "127.0.0.1" */
  host?: string;
  /** @default 9280 */
  port?: number;
  /** PEM certificate and key: serve HTTPS. */
  tls?: { cert: string | Buffer; key: string | Buffer; ca?: string | Buffer };
  /**
   * Serve plain HTTP on a non-loopback address. Without it, `start` refuses
   * a non-loopback `host` unless `tls` is given. @default false
   */
  allowPlainHttp?: boolean;
  /** Throttling of failed token checks per source address. */
  throttle?: FailureThrottleOptions;
  version?: string;
}

interface CompiledRoute {
  route: Route;
  re: RegExp;
  names: string[];
}

export class ProvisioningServer {
  private readonly server: http.Server;
  private readonly routes: CompiledRoute[];
  private readonly tokens: TokenRing;
  private readonly throttle: FailureThrottle;
  private readonly log: Logger;
  private readonly sockets = new Set<Socket>();
  private openapiDoc: unknown;
  private address: { host: string; port: number } | undefined;

  constructor(private readonly opts: ProvisioningServerOptions) {
    this.log = opts.logger;
    this.tokens = new TokenRing(opts.tokens);
    this.throttle = new FailureThrottle(opts.throttle);
    const routes = buildRoutes({ service: opts.service, ...(opts.status ? { status: opts.status } : {}), openapi: () => this.openapi() });
    this.routes = routes.map((route) => {
      const names: string[] = [];
      const re = new RegExp("^" + route.path.replace(/[.]/g, "\\.").replace(/\{(\w+)\}/g, (_m, n: string) => (names.push(n), "([^/]+)")) + "$");
      return { route, re, names };
    });
    const handler = (req: http.IncomingMessage, res: http.ServerResponse) => void this.handle(req, res);
    this.server = opts.tls ? https.createServer({ cert: opts.tls.cert, key: opts.tls.key, ...(opts.tls.ca ? { ca: opts.tls.ca } : {}) }, handler) : http.createServer(handler);
    this.server.headersTimeout = 10_000;
    this.server.requestTimeout = 60_000;
    this.server.on("connection", (s: Socket) => {
      this.sockets.add(s);
      s.once("close", () => this.sockets.delete(s));
    });
  }

  get url(): string {
    if (!this.address) throw new Error("server not started");
    const host = this.address.host.includes(":") ? `[${this.address.host}]` : this.address.host;
    return `${this.opts.tls ? "https" : "http"}://${host}:${this.address.port}`;
  }

  openapi(): unknown {
    this.openapiDoc ??= buildOpenApi(
      this.routes.map((r) => r.route),
      { version: this.opts.version ?? "1", ...(this.address ? { servers: [this.url] } : {}) },
    );
    return this.openapiDoc;
  }

  async start(): Promise<{ host: string; port: number; url: string }> {
    const host = this.opts.host ?? "127.0.0.1";
    if (!this.opts.tls && !this.opts.allowPlainHttp && !isLoopback(host)) {
      throw new UnsafeSettingsError(`plain HTTP on ${host} would send API tokens and account data in clear: serve HTTPS (a certificate of the operator CA), listen on a loopback address, or allow plain HTTP explicitly`);
    }
    await new Promise<void>((resolve, reject) => {
      this.server.once("error", reject);
      this.server.listen(this.opts.port ?? DEFAULT_API_PORT, host, () => {
        this.server.off("error", reject);
        resolve();
      });
    });
    this.server.on("error", (err) => this.log.error({ err: describeError(err) }, "provisioning API socket error"));
    const a = this.server.address();
    this.address = { host, port: typeof a === "object" && a ? a.port : 0 };
    this.log.info({ url: this.url, tokens: this.tokens.size }, "provisioning API listening");
    return { ...this.address, url: this.url };
  }

  async stop(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    for (const s of this.sockets) s.destroy();
    await closed;
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const started = process.hrtime.bigint();
    let routeName = "(none)";
    let status = 500;
    const source = normalizeAddress(req.socket.remoteAddress);
    try {
      const url = new URL(req.url ?? "/", "http://x");
      const { route, params } = this.match(req.method ?? "GET", url.pathname);
      routeName = `${route.method} ${route.path}`;
      const actor = this.authorize(req, route, source);
      const query = route.query ? parseWith(route.query, Object.fromEntries(url.searchParams), "query") : rejectQuery(url);
      const body = route.body ? parseWith(route.body, await readJson(req, route.maxBody ?? 0), "") : await drain(req, route);
      const receipt: ChangeReceipt = {};
      const result = await this.opts.service.receipts.run(receipt, () => route.handler({ params, query, body, actor }));
      status = result.status;
      send(res, result.status, result.body, { ...result.headers, ...receiptHeaders(receipt) });
    } catch (err) {
      const answer = errorAnswer(err);
      status = answer.status;
      if (status >= 500 && status !== 503) this.log.error({ route: routeName, err: describeError(err) }, "provisioning request failed");
      else this.log.debug({ route: routeName, status, err: describeError(err) }, "provisioning request refused");
      const headers: Record<string, string> = {};
      if (status === 401) headers["www-authenticate"] = 'Bearer realm="sipthor"';
      if (status === 503) headers["retry-after"] = "2";
      if (status === 429) headers["retry-after"] = String(Math.max(1, this.throttle.blockedFor(source)));
      send(res, status, answer.body, headers);
    } finally {
      requestChannel.publish({ method: req.method ?? "?", route: routeName, status, ms: Number(process.hrtime.bigint() - started) / 1e6 });
    }
  }

  private match(method: string, path: string): { route: Route; params: Record<string, string> } {
    let pathMatched = false;
    for (const c of this.routes) {
      const m = c.re.exec(path);
      if (!m) continue;
      pathMatched = true;
      if (c.route.method !== method) continue;
      const params: Record<string, string> = {};
      c.names.forEach((n, i) => {
        try {
          params[n] = decodeURIComponent(m[i + 1]!);
        } catch {
          throw new ValidationError(`path parameter ${n} is not valid percent-encoding`);
        }
      });
      return { route: c.route, params };
    }
    if (pathMatched) throw new MethodNotAllowedError(`${method} is not allowed on ${path}`);
    throw new NotFoundError(`no route ${method} ${path} (see /openapi.json)`);
  }

  private authorize(req: http.IncomingMessage, route: Route, source: string): string {
    if (route.scope === "none") return "anonymous";
    const wait = this.throttle.blockedFor(source);
    if (wait > 0) throw new TooManyRequestsError(`too many requests with a bad token from ${source}: try again in ${wait} s`);
    const tok = this.checkToken(req.headers.authorization);
    if (!tok.ok) {
      this.throttle.fail(source);
      this.log.warn({ source, reason: tok.reason }, "API token refused");
      throw new UnauthorizedError(tok.reason);
    }
    this.throttle.succeed(source);
    return this.scoped(tok.token, route);
  }

  private checkToken(h: string | undefined): { ok: true; token: { name: string; scope: "read" | "write" } } | { ok: false; reason: string } {
    if (!h) return { ok: false, reason: "missing token: send Authorization: Bearer <token>" };
    const m = /^Bearer\s+(\S+)\s*$/i.exec(h);
    if (!m) return { ok: false, reason: "malformed Authorization header: expected Bearer <token>" };
    const token = this.tokens.verify(m[1]!);
    return token ? { ok: true, token } : { ok: false, reason: "unknown token" };
  }

  private scoped(tok: { name: string; scope: "read" | "write" }, route: Route): string {
    if (route.scope === "write" && tok.scope !== "write") throw new ForbiddenError(`token ${tok.name} is read-only: ${route.method} ${route.path} needs a write token`);
    return tok.name;
  }
}

/**
 * What a write answer says of its change: `Thor-Change` is its number in the
 * change log; `Thor-Change-Applied: notified` when the nodes were told at
 * once, `pending` when the event bus was down (committed; the nodes read it
 * from the change log within their poll interval).
 */
function receiptHeaders(r: ChangeReceipt): Record<string, string> {
  if (r.seq === undefined) return {};
  return { "thor-change": String(r.seq), "thor-change-applied": r.notified ? "notified" : "pending" };
}

function parseWith(schema: Route["body"] & object, value: unknown, prefix: string): unknown {
  const r = schema.safeParse(value);
  if (!r.success) {
    const details = describeIssues(r.error.issues, prefix);
    throw new ValidationError(`invalid ${prefix || "body"}: ${details.map((d) => `${d.path}: ${d.message}`).join("; ")}`, details);
  }
  return r.data;
}

function rejectQuery(url: URL): undefined {
  const keys = [...url.searchParams.keys()];
  if (keys.length > 0) throw new ValidationError(`unknown query parameter(s): ${keys.join(", ")}`, keys.map((k) => ({ path: `query.${k}`, message: "unknown parameter" })));
  return undefined;
}

async function readBody(req: http.IncomingMessage, max: number): Promise<Buffer> {
  const declared = Number(req.headers["content-length"] ?? "0");
  if (declared > max) {
    req.resume();
    throw new PayloadTooLargeError(`body of ${declared} bytes exceeds the limit of ${max} bytes`);
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > max) {
      req.resume();
      throw new PayloadTooLargeError(`body exceeds the limit of ${max} bytes`);
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

async function readJson(req: http.IncomingMessage, max: number): Promise<unknown> {
  const type = (req.headers["content-type"] ?? "").split(";")[0]!.trim().toLowerCase();
  if (type !== "application/json") {
    req.resume();
    throw new UnsupportedMediaError(`send the body as application/json (got ${type || "no content-type"})`);
  }
  const buf = await readBody(req, max);
  if (buf.length === 0) throw new BadJsonError("empty body: a JSON object is expected");
  try {
    return JSON.parse(buf.toString("utf8"));
  } catch (err) {
    throw new BadJsonError(`the body is not valid JSON: ${(err as Error).message}`);
  }
}

async function drain(req: http.IncomingMessage, route: Route): Promise<undefined> {
  const buf = await readBody(req, 64 * 1024);
  if (buf.length > 0) throw new ValidationError(`${route.method} ${route.path} takes no body`);
  return undefined;
}

/** The one place errors become HTTP answers. */
export function errorAnswer(err: unknown): { status: number; body: unknown } {
  if (err instanceof ProvisioningError) {
    return { status: err.status, body: { error: { code: err.code, status: err.status, message: err.message, ...(err.details ? { details: err.details } : {}) } } };
  }
  return { status: 500, body: { error: { code: "THOR_PROVISIONING_INTERNAL", status: 500, message: `internal error: ${describeError(err)}` } } };
}

function send(res: http.ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  if (res.headersSent) return;
  const text = body === undefined || status === 204 ? "" : JSON.stringify(body);
  res.writeHead(status, { ...headers, ...(text ? { "content-type": "application/json; charset=utf-8", "content-length": Buffer.byteLength(text) } : {}) });
  res.end(text);
}


function normalizeAddress(a: string | undefined): string {
  if (!a) return "?";
  return a.startsWith("::ffff:") ? a.slice(7) : a;
}
