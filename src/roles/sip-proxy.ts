/**
 * The `sip_proxy` role: the SIP stack (src/sip) run by a node. It listens
 * on the node's public SIP listeners, advertises them in the node's entity
 * (`sip_udp`, `sip_tcp`, `sip_tls`, `sip_ws`, `sip_wss`) so `thor dns` and
 * the monitor can hand them out, and publishes its counters on
 * `Thor.Statistics`.
 */
import type { Logger } from "../base/index.js";
import type { Role, RoleAdvertisement, RoleContext } from "../node/index.js";
import { SipServer, type CredentialStore, type ListenSpec, type TimerConfig } from "../sip/index.js";

export interface SipProxyRoleOptions {
  /** Public listeners (udp/tcp/tls/ws/wss on the node's address). */
  listen: ListenSpec[];
  /** Domains served; the first is the digest realm. */
  domains: string[];
  credentials: CredentialStore;
  /** Certificate and key (PEM) for tls/wss listeners. */
  tls?: { cert: string; key: string };
  timers?: Partial<TimerConfig>;
  registrar?: { minExpires?: number; maxExpires?: number };
  algorithms?: Array<"MD5" | "SHA-256">;
  /** Requests per second per source before dropping. @default 200 */
  rate?: number;
  userAgent?: string;
}

export class SipProxyRole implements Role {
  readonly name = "sip_proxy";
  private server: SipServer | undefined;
  private log: Logger | undefined;

  constructor(private readonly opts: SipProxyRoleOptions) {}

  async start(ctx: RoleContext): Promise<void> {
    this.log = ctx.logger;
    const rate = this.opts.rate ?? 200;
    this.server = new SipServer({
      logger: ctx.logger,
      clock: ctx.clock,
      listen: this.opts.listen,
      domains: this.opts.domains,
      credentials: this.opts.credentials,
      ...(this.opts.tls ? { tls: this.opts.tls } : {}),
      ...(this.opts.timers ? { timers: this.opts.timers } : {}),
      ...(this.opts.registrar ? { registrar: this.opts.registrar } : {}),
      ...(this.opts.algorithms ? { algorithms: this.opts.algorithms } : {}),
      guard: { rate, burst: rate * 2 },
      ...(this.opts.userAgent ? { userAgent: this.opts.userAgent } : {}),
    });
    await this.server.start();
    this.log.info({ listen: this.listeners(), domains: this.opts.domains }, "SIP service listening");
  }

  async stop(): Promise<void> {
    await this.server?.stop();
    this.server = undefined;
  }

  advertise(): RoleAdvertisement {
    const ports: Record<string, number> = {};
    for (const l of this.server?.transport.bound() ?? []) ports[`sip_${l.transport}`] ??= l.boundPort;
    return { ports };
  }

  statistics(): Record<string, number> {
    if (!this.server) return {};
    const c = this.server.proxy.counters;
    return { ...c, bindings: this.server.proxy.registrar.store.size, aors: this.server.proxy.registrar.store.aorCount };
  }

  private listeners(): string[] {
    return (this.server?.transport.bound() ?? []).map((b) => `${b.transport}:${b.host}:${b.boundPort}`);
  }
}
