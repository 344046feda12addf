/**
 * The `sip_proxy` role: the SIP stack (src/sip) run by a node as one part
 * of the distributed SIP service.
 *
 * - Public listeners (udp/tcp/tls/ws/wss) are advertised in the node's
 *   entity as `sip_udp`, `sip_tcp`, `sip_tls`, `sip_ws`, `sip_wss`, so
 *   `thor dns` and the monitor can hand them out; any node accepts any
 *   subscriber.
 * - An internal listener (`sip_int`, TLS with the node certificates of the
 *   operator CA on both ends) carries SIP between members.
 * - Bindings live on the AOR's holders on the `sip_proxy` ring
 *   ({@link DistributedLocation}); a binding names the edge node that holds
 *   the client's flow, and requests for that client go through it (reverse
 *   outbound), so a call crosses at most two nodes: the one it arrived on
 *   and the callee's edge.
 * - Credentials come from the local store; a subscriber unknown here is
 *   asked of its responsible node (`sip.credentials`).
 *
 * Without a control link (a node run in isolation) it is a single-node
 * proxy and registrar.
 */
import { z } from "zod";
import { describeError, type KeyRing, type Logger, type TimerHandle } from "../base/index.js";
import type { Role, RoleAdvertisement, RoleContext } from "../node/index.js";
import type { RoleMap } from "../overlay/index.js";
import { authorizePeer, parsePassport, type TlsIdentity } from "../pki/index.js";
import {
  Registrar,
  SipServer,
  type AsyncCredentialStore,
  type ClusterHooks,
  type CredentialStore,
  type Credentials,
  type ListenSpec,
  type PeerTls,
  type TimerConfig,
} from "../sip/index.js";
import { LocationRequestError } from "./errors.js";
import { DistributedLocation, DEFAULT_REPLICAS, requireNode } from "./sip-location.js";
import type { SubscriberBinding } from "./subscribers.js";

/** @default 5070 */
export const DEFAULT_SIP_INTERNAL_PORT = 5070;

export interface SipProxyRoleOptions {
  /** Public listeners (udp/tcp/tls/ws/wss on the node's address). */
  listen: ListenSpec[];
  /** The member-to-member listener (`tls` on the node's address); without it the node serves alone. */
  internal?: { host: string; port: number };
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
  /** Holders of each AOR's bindings. @default DEFAULT_REPLICAS */
  replicas?: number;
  userAgent?: string;
  /** The cluster secret (signed Record-Route entries, flow tokens, nonces); every member must hold the same keys. */
  keys: KeyRing;
  /** Domains whose phones may answer digest challenges without qop. @default none */
  digestWithoutQop?: string[];
  /** Provisioned subscribers (the accounts this node owns, from the announced database): the local credentials instead of `credentials`. */
  subscribers?: SubscriberBinding;
}

const credentialsCall = z.object({ username: z.string().min(1).max(128), realm: z.string().min(1).max(256) }).strict();

export class SipProxyRole implements Role {
  readonly name = "sip_proxy";
  private server: SipServer | undefined;
  private location: DistributedLocation | undefined;
  private log: Logger | undefined;
  private sweepTimer: TimerHandle | undefined;
  private stopped = false;

  constructor(private readonly opts: SipProxyRoleOptions) {}

  async start(ctx: RoleContext): Promise<void> {
    this.log = ctx.logger;
    const rate = this.opts.rate ?? 200;
    const distributed = this.opts.internal && ctx.control && ctx.identity ? { control: ctx.control, identity: ctx.identity, internal: this.opts.internal } : undefined;
    const self = ctx.self().id;
    let cluster: ClusterHooks | undefined;
    await this.opts.subscribers?.start(ctx);
    let credentials: CredentialStore | AsyncCredentialStore = this.local();
    const listen = [...this.opts.listen];
    if (distributed) {
      const registrar = new Registrar(this.opts.registrar);
      this.location = new DistributedLocation({ self, control: distributed.control, registrar, clock: ctx.clock, logger: ctx.logger.child({ part: "location" }), map: () => ctx.roleMap(), replicas: this.opts.replicas ?? DEFAULT_REPLICAS });
      cluster = clusterHooks(self, () => ctx.roleMap());
      credentials = this.remoteCredentials(distributed.control, this.location);
      listen.push({ transport: "tls", host: distributed.internal.host, port: distributed.internal.port, internal: true });
    }
    this.server = new SipServer({
      logger: ctx.logger,
      clock: ctx.clock,
      listen,
      domains: this.opts.domains,
      credentials,
      keys: this.opts.keys,
      ...(this.opts.digestWithoutQop ? { digestWithoutQop: this.opts.digestWithoutQop } : {}),
      ...(this.location ? { location: this.location } : {}),
      ...(cluster ? { cluster } : {}),
      ...(distributed ? { peerTls: peerTls(distributed.identity) } : {}),
      ...(this.opts.tls ? { tls: this.opts.tls } : {}),
      ...(this.opts.timers ? { timers: this.opts.timers } : {}),
      ...(this.opts.registrar ? { registrar: this.opts.registrar } : {}),
      ...(this.opts.algorithms ? { algorithms: this.opts.algorithms } : {}),
      guard: { rate, burst: rate * 2 },
      ...(this.opts.userAgent ? { userAgent: this.opts.userAgent } : {}),
    });
    await this.server.start();
    const sweep = () => {
      this.location?.sweep();
      if (!this.stopped) this.sweepTimer = ctx.clock.setTimeout(sweep, 1000);
    };
    if (this.location) sweep();
    this.log.info({ listen: this.listeners(), domains: this.opts.domains, distributed: distributed !== undefined }, "SIP service listening");
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.location?.stop();
    await this.server?.stop();
    this.server = undefined;
    await this.opts.subscribers?.stop();
  }

  onMembership(map: RoleMap): void {
    this.location?.onMembership(map);
    this.opts.subscribers?.onMembership(map);
  }

  /** The credentials this node answers for itself. */
  private local(): CredentialStore {
    return this.opts.subscribers ?? this.opts.credentials;
  }

  advertise(): RoleAdvertisement {
    const ports: Record<string, number> = {};
    for (const l of this.server?.transport.bound() ?? []) ports[l.internal ? "sip_int" : `sip_${l.transport}`] ??= l.boundPort;
    return { ports };
  }

  statistics(): Record<string, number> {
    if (!this.server) return {};
    const store = this.location?.store ?? this.server.proxy.registrar.store;
    return { ...this.server.proxy.counters, bindings: store.size, aors: store.aorCount, ...(this.location?.stats ?? {}), ...(this.opts.subscribers?.statistics() ?? {}) };
  }

  /** The local store first; a subscriber we do not know is asked of its holders, like its registrations. */
  private remoteCredentials(control: NonNullable<RoleContext["control"]>, location: DistributedLocation): AsyncCredentialStore {
    const local = this.local();
    control.handle("sip.credentials", (p, peer) => {
      requireNode(peer, "sip.credentials");
      const r = credentialsCall.safeParse(p);
      if (!r.success) throw new LocationRequestError(`invalid request: ${r.error.issues[0]?.message ?? "bad shape"}`);
      return local.lookup(r.data.username, r.data.realm) ?? null;
    });
    return {
      lookup: async (username: string, realm: string): Promise<Credentials | undefined> => {
        const here = local.lookup(username, realm);
        if (here) return here;
        try {
          const v = await location.viaHolders(`${username}@${realm}`, () => null, "sip.credentials", { username, realm }, () => undefined);
          return v === null ? undefined : (v as Credentials);
        } catch (err) {
          this.log?.warn({ username, err: describeError(err) }, "no holder of the account answered");
          return undefined;
        }
      },
    };
  }

  private listeners(): string[] {
    return (this.server?.transport.bound() ?? []).map((b) => `${b.internal ? "internal-" : ""}${b.transport}:${b.host}:${b.boundPort}`);
  }
}

/** How the proxy reaches other members: their internal listeners, from the membership. */
function clusterHooks(self: string, map: () => RoleMap | undefined): ClusterHooks {
  return {
    self,
    edgeAddress(edge: string): { host: string; port: number } | undefined {
      const m = map()?.members.find((e) => e.id === edge);
      const port = m?.ports["sip_int"];
      if (!m || !port) return undefined;
      return { host: m.ip.includes(":") ? `[${m.ip}]` : m.ip, port };
    },
    isPeer(address: string, port: number): boolean {
      return (map()?.members ?? []).some((e) => e.ip === address && e.ports["sip_int"] === port);
    },
  };
}

/** Mutual TLS between members' internal SIP listeners: certificates of the operator CA, OU=node. */
function peerTls(identity: TlsIdentity): PeerTls {
  const nodes = [parsePassport("OU=node")];
  return {
    server: () => identity.serverOptions(),
    client: () => identity.clientOptions(),
    authorize(socket) {
      const v = authorizePeer(socket, identity, nodes);
      return v.ok ? { ok: true, peer: v.peer.subject["CN"] ?? "?" } : { ok: false, reason: v.reason };
    },
  };
}
