/**
 * The XCAP HTTP server (RFC 4825 over fastify): parses the XCAP URI,
 * authenticates through the injected {@link XcapAuthenticator}, lets a user
 * reach only their own folder, hands the request to the
 * {@link XcapService} and maps every error to its answer in one place
 * (409 with an `<xcap-error>` body, 401 with digest challenges, plain text
 * otherwise).
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { describeError, type Logger } from "../base/index.js";
import type { XcapAuthenticator } from "./auth.js";
import { xcapRequestChannel } from "./diagnostics.js";
import { conflictBody, XcapError, XcapForbiddenError, XcapNotFoundError, XcapTooLargeError, XcapUnauthorizedError } from "./errors.js";
import { MIME_ERROR } from "./operations.js";
import { DEFAULT_REQUEST_TIMEOUT_MS, DEFAULT_XCAP_LIMITS, DEFAULT_XCAP_PORT, DEFAULT_XCAP_ROOT } from "./options.js";
import type { XcapService } from "./service.js";
import { parseXcapUri } from "./uri-codec.js";

export interface XcapServerOptions {
  service: XcapService;
  authenticator: XcapAuthenticator;
  logger: Logger;
  /** Domains whose users are served; others get 404. */
  domains: readonly string[];
  /** @default "127.0.0.1" */
  host?: string;
  /** @default DEFAULT_XCAP_PORT (9290); 0 = any free port */
  port?: number;
  /** @default DEFAULT_XCAP_ROOT ("/xcap-root") */
  root?: string;
  /** Largest body accepted. @default DEFAULT_MAX_DOCUMENT_BYTES */
  maxBodyBytes?: number;
  /** @default DEFAULT_REQUEST_TIMEOUT_MS */
  requestTimeoutMs?: number;
  /** PEM certificate and key: serve HTTPS. */
  tls?: { cert: string; key: string };
}

export class XcapServer {
  private app: FastifyInstance | undefined;
  private readonly root: string;
  private readonly domains: Set<string>;
  private address: { host: string; port: number } | undefined;

  constructor(private readonly opts: XcapServerOptions) {
    this.root = (opts.root ?? DEFAULT_XCAP_ROOT).replace(/\/+$/, "");
    this.domains = new Set(opts.domains.map((d) => d.toLowerCase()));
  }

  /** Build the fastify app; fastify is loaded only by nodes that serve XCAP (it adds startup time to every other node). */
  private async build(): Promise<FastifyInstance> {
    const opts = this.opts;
    const { default: Fastify } = await import("fastify");
    const timeout = opts.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
    const app = Fastify({
      logger: false,
      bodyLimit: opts.maxBodyBytes ?? DEFAULT_XCAP_LIMITS.maxDocumentBytes,
      requestTimeout: timeout,
      connectionTimeout: timeout,
      keepAliveTimeout: 5000,
      routerOptions: { maxParamLength: 8192 },
      ...(opts.tls ? { https: { cert: opts.tls.cert, key: opts.tls.key } } : {}),
    }) as unknown as FastifyInstance;
    // Every body is taken as bytes: the service checks UTF-8, media type and XML itself.
    app.removeAllContentTypeParsers();
    app.addContentTypeParser("*", { parseAs: "buffer" }, (_req, body, done) => done(null, body));
    app.route({ method: ["GET", "PUT", "DELETE"], url: `${this.root}/*`, handler: (req, reply) => this.handle(req, reply) });
    app.setNotFoundHandler((_req, reply) => reply.code(404).type("text/plain").send(`not found: XCAP URIs start with ${this.root}/\n`));
    app.setErrorHandler((err: { statusCode?: number; message?: string }, _req, reply) => {
      const status = err.statusCode && err.statusCode >= 400 && err.statusCode < 600 ? err.statusCode : 500;
      if (status >= 500) opts.logger.warn({ err: describeError(err) }, "XCAP request failed");
      void reply.code(status).type("text/plain").send(`${status === 413 ? new XcapTooLargeError("the body is over the size limit").message : (err.message ?? "error")}\n`);
    });
    return app;
  }

  get url(): string {
    if (!this.address) throw new Error("XCAP server not started");
    const host = this.address.host.includes(":") ? `[${this.address.host}]` : this.address.host;
    return `${this.opts.tls ? "https" : "http"}://${host}:${this.address.port}${this.root}`;
  }

  async start(): Promise<{ host: string; port: number }> {
    const host = this.opts.host ?? "127.0.0.1";
    const app = (this.app ??= await this.build());
    await app.listen({ host, port: this.opts.port ?? DEFAULT_XCAP_PORT });
    const a = app.server.address();
    this.address = { host, port: typeof a === "object" && a ? a.port : 0 };
    return this.address;
  }

  async stop(): Promise<void> {
    await this.app?.close();
  }

  private async handle(req: FastifyRequest, reply: FastifyReply): Promise<void> {
    const t0 = performance.now();
    const method = req.method === "HEAD" ? "GET" : req.method;
    let auid = "?";
    let status = 500;
    try {
      const target = req.raw.url ?? "";
      const parsed = parseXcapUri(target, this.root);
      if (!parsed.ok) throw parsed.status === 404 ? new XcapNotFoundError(parsed.reason) : new XcapError("THOR_XCAP_BAD_REQUEST", 400, parsed.reason);
      const uri = parsed.uri;
      auid = uri.auid;
      if (uri.aor) {
        const domain = uri.aor.slice(uri.aor.lastIndexOf("@") + 1);
        if (!this.domains.has(domain)) throw new XcapNotFoundError(`the domain ${domain} is not served here`);
        const auth = await this.opts.authenticator.authenticate({ method: req.method, target, authorization: req.headers.authorization, realm: domain });
        if (!auth.ok) {
          if (auth.status === 401) void reply.header("WWW-Authenticate", auth.challenges);
          throw auth.status === 401 ? new XcapUnauthorizedError(auth.reason) : new XcapForbiddenError(auth.reason);
        }
        const p = auth.principal;
        // A user reaches only their own documents; an operator token reaches all, writing only with write scope.
        if (p.kind === "user" && p.aor !== uri.aor) throw new XcapForbiddenError(`${p.aor} may not reach the documents of ${uri.aor}`);
        if (p.kind === "operator" && method !== "GET" && !p.write) throw new XcapForbiddenError(`the token ${p.name} may only read`);
      }
      const answer = await this.opts.service.handle({
        method,
        uri,
        ...(Buffer.isBuffer(req.body) ? { body: req.body } : {}),
        ...(req.headers["content-type"] !== undefined ? { contentType: req.headers["content-type"] } : {}),
        ...(typeof req.headers["if-match"] === "string" ? { ifMatch: req.headers["if-match"] } : {}),
        ...(typeof req.headers["if-none-match"] === "string" ? { ifNoneMatch: req.headers["if-none-match"] } : {}),
      });
      status = answer.status;
      reply.code(answer.status);
      if (answer.etag) void reply.header("ETag", `"${answer.etag}"`);
      if (answer.body !== undefined) await reply.type(answer.contentType ?? "application/xml").send(answer.body);
      else await reply.send();
    } catch (err) {
      if (err instanceof XcapError) {
        status = err.status;
        reply.code(err.status);
        if (err.conflict) await reply.type(MIME_ERROR).send(conflictBody(err.conflict));
        else await reply.type("text/plain").send(`${err.message}\n`);
      } else {
        status = 500;
        this.opts.logger.warn({ err: describeError(err), url: req.raw.url?.slice(0, 200) }, "XCAP request failed");
        await reply.code(500).type("text/plain").send("internal error\n");
      }
    } finally {
      xcapRequestChannel.publish({ method, auid, status, ms: performance.now() - t0 });
    }
  }
}
