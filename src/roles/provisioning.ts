/**
 * The `provisioning_server` role: the HTTP/JSON API run by a node over the
 * database that `thor database` announces (primary for writes, secondaries
 * for reads while it is down). After every committed change it publishes
 * `Thor.Provisioning` naming the changed AORs, so the responsible SIP nodes
 * refresh at once; it serves the live membership and the per-role
 * statistics it hears on the bus.
 */
import type { DatabaseCluster } from "../db/index.js";
import type { Role, RoleAdvertisement, RoleContext, RoleReadiness } from "../node/index.js";
import {
  DEFAULT_API_PORT,
  DEFAULT_CHANGE_CHUNK,
  ProvisioningServer,
  ProvisioningService,
  StatisticsAggregator,
  requestChannel,
  type ApiToken,
  type ChangeNotice,
  type NetworkStatusSource,
} from "../provisioning/index.js";
import { subscribe } from "../base/index.js";
import { followDatabases } from "./databases.js";

export interface ProvisioningRoleOptions {
  /** Listen address of the API. @default the node's ip */
  host?: string;
  /** @default 9280 */
  port?: number;
  tokens: ApiToken[];
  /** PEM certificate and key: serve HTTPS. */
  tls?: { cert: string; key: string };
  /** Serve plain HTTP on a non-loopback address (see ProvisioningServerOptions). @default false */
  allowPlainHttp?: boolean;
  /** Databases used when none is announced (e.g. `thor demo` tests). */
  dburis?: string[];
  version?: string;
}

export class ProvisioningServerRole implements Role {
  readonly name = "provisioning_server";
  private server: ProvisioningServer | undefined;
  private cluster: DatabaseCluster | undefined;
  private offs: Array<() => void> = [];
  private port = 0;
  private readonly counters = { requests: 0, errors: 0, changes: 0 };

  constructor(private readonly opts: ProvisioningRoleOptions) {}

  get url(): string | undefined {
    return this.server?.url;
  }

  async start(ctx: RoleContext): Promise<void> {
    const log = ctx.logger;
    // The databases of the node's one directory (or the fixed list), migrated whenever the primary changes.
    const dbs = followDatabases(ctx, log, { migrate: true, ...(this.opts.dburis?.length ? { fixed: this.opts.dburis } : {}) });
    this.cluster = dbs.cluster;
    const stats = new StatisticsAggregator(() => ctx.clock.wallNow());
    this.offs.push(
      dbs.stop,
      ctx.bus.subscribe("Thor.Statistics", (r) => stats.add(r)),
      ctx.bus.subscribe("Thor.Leave", (l) => stats.forget(l.id)),
      subscribe<{ status: number }>(requestChannel.name, (m) => {
        this.counters.requests++;
        if (m.status >= 400) this.counters.errors++;
      }),
    );
    const publisher = {
      publish: (change: ChangeNotice & { seq: number }): boolean => {
        this.counters.changes++;
        const at = ctx.clock.wallNow();
        const chunks = Math.max(1, Math.ceil(change.aors.length / DEFAULT_CHANGE_CHUNK));
        let sent = true;
        for (let i = 0; i < chunks; i++) {
          const aors = change.aors.slice(i * DEFAULT_CHANGE_CHUNK, (i + 1) * DEFAULT_CHANGE_CHUNK);
          // The change's number only on a notice that carries all of it: a node that gets one chunk of
          // several must not take the whole change as applied (it re-reads it from the change log).
          sent = ctx.bus.publish("Thor.Provisioning", { aors, ...(i === 0 && change.domains?.length ? { domains: change.domains } : {}), ...(i === 0 && change.trustedPeers ? { trustedPeers: true } : {}), at, ...(chunks === 1 ? { seq: change.seq } : {}) }) && sent;
        }
        return sent;
      },
    };
    const status: NetworkStatusSource = { membership: () => ctx.snapshot(), statistics: () => stats.aggregate() };
    const service = new ProvisioningService({ cluster: this.cluster, logger: log, publisher });
    this.server = new ProvisioningServer({
      service,
      status,
      logger: log,
      tokens: this.opts.tokens,
      host: this.opts.host ?? ctx.self().ip,
      port: this.opts.port ?? DEFAULT_API_PORT,
      ...(this.opts.tls ? { tls: this.opts.tls } : {}),
      ...(this.opts.allowPlainHttp ? { allowPlainHttp: true } : {}),
      ...(this.opts.version ? { version: this.opts.version } : {}),
    });
    const addr = await this.server.start();
    this.port = addr.port;
    await dbs.ready;
  }

  async stop(): Promise<void> {
    for (const off of this.offs) off();
    this.offs = [];
    await this.server?.stop();
    await this.cluster?.close();
  }

  advertise(): RoleAdvertisement {
    return this.port ? { ports: { provisioning: this.port }, attrs: { provisioning_tls: this.opts.tls !== undefined } } : {};
  }

  readiness(): RoleReadiness {
    const st = this.cluster?.state();
    if (!this.server) return { ok: false, detail: "not started" };
    if (!st?.primary) return { ok: false, detail: "no database announced" };
    return st.primaryUp ? { ok: true, detail: "primary up" } : { ok: false, detail: "primary down (writes refused)" };
  }

  statistics(): Record<string, number> {
    return { ...this.counters };
  }
}
