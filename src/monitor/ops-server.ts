/**
 * The operations port of a member (`--metrics-listen host:port`): Prometheus
 * `/metrics`, `/health` (alive) and `/ready` (200 when ready, 503 when not),
 * on the shared HTTP server (http/). Read-only, no secrets: it binds to the
 * address the operator gives (a management network or loopback).
 */
import type { Logger } from "../base/index.js";
import { createHttpApp, listenHttp, type HttpApp } from "../http/index.js";
import type { Health } from "./health.js";
import type { ThorMetrics } from "./metrics.js";

export interface OpsServerOptions {
  host: string;
  port: number;
  logger: Logger;
  metrics: ThorMetrics;
  health: Health;
}

export class OpsServer {
  private app: HttpApp | undefined;
  private bound: { host: string; port: number } | undefined;

  constructor(private readonly opts: OpsServerOptions) {}

  get address(): { host: string; port: number } | undefined {
    return this.bound;
  }

  async start(): Promise<{ host: string; port: number }> {
    const app = createHttpApp({ logger: this.opts.logger, bodyLimit: 1024 });
    const { metrics, health } = this.opts;
    app.get("/metrics", async (_req, reply) => {
      const { contentType, text } = await metrics.exposition();
      return reply.header("content-type", contentType).send(text);
    });
    app.get("/health", async () => health.alive());
    app.get("/ready", async (_req, reply) => {
      const r = await health.ready();
      return reply.code(r.ready ? 200 : 503).send(r);
    });
    const addr = await listenHttp(app, this.opts.host, this.opts.port);
    this.app = app;
    this.bound = { host: addr.address, port: addr.port };
    this.opts.logger.info({ listen: `${addr.address}:${addr.port}` }, "metrics and health listening (/metrics, /health, /ready)");
    return this.bound;
  }

  async stop(): Promise<void> {
    await this.app?.close();
    this.app = undefined;
  }
}
