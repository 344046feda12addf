/**
 * The one HTTP framework of the project (fastify), behind a small factory so
 * that every HTTP surface (metrics and health, the dashboard, later XCAP and
 * the provisioning API) gets the same limits: body size, request and
 * keep-alive timeouts, a connection cap, no framework logging of request
 * bodies or headers (secrets stay out of the logs), HTTPS when given a
 * certificate.
 */
import Fastify, { type FastifyInstance } from "fastify";
import type { AddressInfo } from "node:net";
import type { Logger } from "../base/index.js";
import { DEFAULT_HTTP_BODY_LIMIT, DEFAULT_HTTP_KEEPALIVE_MS, DEFAULT_HTTP_MAX_CONNECTIONS, DEFAULT_HTTP_REQUEST_TIMEOUT_MS } from "./options.js";

export interface HttpServerOptions {
  /** Listen address. */
  host: string;
  /** 0 picks a free port. */
  port: number;
  logger: Logger;
  /**
   * PEM certificate and key: serve HTTPS. With `requestCert`, clients are
   * asked for a certificate of `ca` (checked against `crl`); the handshake
   * is not aborted without one, so a route can still accept another
   * credential and answer 401/403 with a reason instead of a reset.
   */
  tls?: { cert: string | Buffer; key: string | Buffer; ca?: string | Buffer; crl?: string | Buffer; requestCert?: boolean };
  /** @default DEFAULT_HTTP_BODY_LIMIT */
  bodyLimit?: number;
  /** @default DEFAULT_HTTP_REQUEST_TIMEOUT_MS */
  requestTimeoutMs?: number;
  /** @default DEFAULT_HTTP_KEEPALIVE_MS */
  keepAliveMs?: number;
  /** @default DEFAULT_HTTP_MAX_CONNECTIONS */
  maxConnections?: number;
}

export type HttpApp = FastifyInstance;

/** A fastify app with the shared limits; add routes, then {@link listenHttp}. */
export function createHttpApp(opts: Omit<HttpServerOptions, "host" | "port">): HttpApp {
  const app = Fastify({
    logger: false,
    bodyLimit: opts.bodyLimit ?? DEFAULT_HTTP_BODY_LIMIT,
    requestTimeout: opts.requestTimeoutMs ?? DEFAULT_HTTP_REQUEST_TIMEOUT_MS,
    connectionTimeout: opts.requestTimeoutMs ?? DEFAULT_HTTP_REQUEST_TIMEOUT_MS,
    keepAliveTimeout: opts.keepAliveMs ?? DEFAULT_HTTP_KEEPALIVE_MS,
    ...(opts.tls
      ? {
          https: {
            cert: opts.tls.cert,
            key: opts.tls.key,
            minVersion: "TLSv1.2" as const,
            ...(opts.tls.ca ? { ca: opts.tls.ca } : {}),
            ...(opts.tls.crl ? { crl: opts.tls.crl } : {}),
            ...(opts.tls.requestCert ? { requestCert: true, rejectUnauthorized: false } : {}),
          },
        }
      : {}),
  }) as unknown as FastifyInstance;
  app.setErrorHandler((err: { statusCode?: number; message: string }, _req, reply) => {
    const status = err.statusCode && err.statusCode >= 400 && err.statusCode < 600 ? err.statusCode : 500;
    if (status >= 500) opts.logger.warn({ err: err.message }, "http handler failed");
    void reply.code(status).send({ error: status >= 500 ? "internal error" : err.message });
  });
  app.setNotFoundHandler((_req, reply) => void reply.code(404).send({ error: "not found" }));
  app.server.maxConnections = opts.maxConnections ?? DEFAULT_HTTP_MAX_CONNECTIONS;
  return app;
}

/** Listen and return the bound address. */
export async function listenHttp(app: HttpApp, host: string, port: number): Promise<AddressInfo> {
  await app.listen({ host, port });
  return app.server.address() as AddressInfo;
}
