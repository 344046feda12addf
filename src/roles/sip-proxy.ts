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
import type { Role, RoleAdvertisement, RoleContext, RoleReadiness } from "../node/index.js";
import type { MembershipUpdate, RoleMap } from "../overlay/index.js";
import { formatSubject, MemberLink, parsePassport } from "../pki/index.js";
import {
  CredentialsUnavailableError,
  pluginInterceptor,
  Registrar,
  SipServer,
  type AsyncCredentialStore,
  type ClusterHooks,
  type ConnectionLimits,
  type CredentialStore,
  type MessageLimits,
  type Credentials,
  type ListenSpec,
  type SharedSocketOpener,
  type PeerTls,
  type TimerConfig,
} from "../sip/index.js";
import { LocationRequestError } from "./errors.js";
import { DistributedLocation, DEFAULT_REPLICAS, SIP_HOST_ATTR, parseAnswer } from "./sip-location.js";
import type { SubscriberBinding } from "./subscribers.js";
import { XcapChangeReceiver } from "./xcap-changes.js";
import { MediaDispatcher, type NatPolicy } from "./media-dispatcher.js";
import { presenceFeature, presenceStatistics, type PresenceFeature } from "./presence-feature.js";
import { xcapSel, type Handling, type PresenceLimits } from "../presence/index.js";
import { DEFAULT_XCAP_ROOT } from "../xcap/index.js";
import type { XcapDocumentKey } from "../db/index.js";

/** @default 5070 */
export const DEFAULT_SIP_INTERNAL_PORT = 5070;

export interface SipProxyRoleOptions {
  /** Public listeners (udp/tcp/tls/ws/wss on the node's address; `shared` ones with the host's other SIP workers). */
  listen: ListenSpec[];
  /** Opens the sockets of `shared` listeners (SO_REUSEPORT, native/reuseport). */
  openShared?: SharedSocketOpener;
  /** The member-to-member listener (`tls` on the node's address); without it the node serves alone. */
  internal?: { host: string; port: number };
  /** Domains served; the first is the digest realm. */
  domains: string[];
  credentials: CredentialStore;
  /** Certificate and key (PEM) for tls/wss listeners. */
  tls?: { cert: string; key: string };
  timers?: Partial<TimerConfig>;
  registrar?: { minExpires?: number; maxExpires?: number; maxContacts?: number };
  /** Connection caps and timeouts of the public listeners. @default DEFAULT_CONNECTION_LIMITS */
  connectionLimits?: Partial<ConnectionLimits>;
  /** Header caps per message. @default DEFAULT_MESSAGE_LIMITS */
  messageLimits?: Partial<MessageLimits>;
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
  /** Media relaying of the calls this node handles (needs the control link); absent = no relay in the media path. */
  media?: { policy: NatPolicy; timeoutMs?: number };
  /** The presence agent (SUBSCRIBE / PUBLISH, RFC 6665 / 3903 / 3856); `false` turns it off. @default on, with DEFAULT_PRESENCE_LIMITS */
  presence?: false | { limits?: Partial<PresenceLimits>; withoutRules?: Handling };
}

const credentialsCall = z.object({ username: z.string().min(1).max(128), realm: z.string().min(1).max(256) }).strict();
const credentialsAnswer = z.union([
  z.null(),
  z
    .object({
      password: z.string().max(256).optional(),
      blocked: z.boolean().optional(),
      ha1: z.object({ MD5: z.string().regex(/^[0-9a-f]{32}$/i).optional(), "SHA-256": z.string().regex(/^[0-9a-f]{64}$/i).optional() }).strict().optional(),
    })
    .strict(),
]);

export class SipProxyRole implements Role {
  readonly name = "sip_proxy";
  private server: SipServer | undefined;
  private location: DistributedLocation | undefined;
  private log: Logger | undefined;
  private sweepTimer: TimerHandle | undefined;
  private xcapChanges: XcapChangeReceiver | undefined;
  private stopped = false;
  private memberLink: MemberLink | undefined;
  private media: MediaDispatcher | undefined;
  private presence: PresenceFeature | undefined;

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
      this.location = new DistributedLocation({ self, control: distributed.control, registrar, clock: ctx.clock, logger: ctx.logger.child({ part: "location" }), map: () => ctx.roleMap(), replicas: this.opts.replicas ?? DEFAULT_REPLICAS, cutOff: () => ctx.cutOff?.() });
      // Until this node is in the membership and holds its accounts it would refuse correct logins
      // (and get callers banned): it answers 503 + Retry-After instead, which sends them elsewhere.
      const starting = () => !(ctx.roleMap()?.members.some((m) => m.id === self) ?? false) || (this.opts.subscribers !== undefined && !this.opts.subscribers.loaded);
      // Cut off from the cluster (no manager heard while the peers moved on, src/node/cut-off.ts), it would register
      // users into a view the others dropped: 503 + Retry-After sends phones to another node instead.
      const shared = this.opts.listen.find((l) => l.shared);
      cluster = clusterHooks(self, () => ctx.roleMap(), shared ? shared.advertise ?? shared.host : undefined, () => ((ctx.draining?.() ?? ctx.self().attrs["draining"] === true) ? "draining" : starting() ? "starting" : ctx.cutOff?.() !== undefined ? "cut off" : undefined));
      credentials = this.remoteCredentials(distributed.control, this.location);
      listen.push({ transport: "tls", host: distributed.internal.host, port: distributed.internal.port, internal: true });
    }
    if (this.opts.media && ctx.control) {
      const control = ctx.control;
      this.media = new MediaDispatcher({ logger: ctx.logger.child({ part: "media" }), clock: ctx.clock, map: () => ctx.roleMap(), call: (m, method, p, t) => control.call(m, method, p, t), ...this.opts.media });
      this.media.start();
    }
    if (this.opts.presence !== false) this.presence = this.presenceFeature(ctx, distributed ? { self, control: distributed.control } : undefined);
    if (distributed) {
      // Presence rules changed through XCAP: the presence agent re-judges the owner's watchers (and replicates).
      const agent = this.presence?.agent;
      this.xcapChanges = new XcapChangeReceiver(distributed.control, ctx.logger.child({ part: "xcap" }), (change) => {
        if (!agent) return;
        // RFC 5875: the user's xcap-diff subscriptions hear of every write to their documents.
        const diff = { sel: xcapSel(change.auid, change.xui, change.document), ...(change.previousEtag ? { previousEtag: change.previousEtag } : {}), ...(change.etag !== null ? { newEtag: change.etag } : {}) };
        agent.xcapChanged(change.aor, change.root ?? xcapRoot(ctx.roleMap(), change.aor), diff);
        // The rules, or a buddy list they may name (external-list): re-judge the owner's watchers.
        if (change.auid !== "pres-rules" && change.auid !== "resource-lists") return;
        agent.rulesChanged(change.aor).catch((err: unknown) => this.log?.warn({ aor: change.aor, err: describeError(err) }, "pres-rules change not applied"));
      });
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
      ...(distributed ? { peerTls: peerTls(this.internalLink(distributed.identity)) } : {}),
      ...(this.opts.tls ? { tls: this.opts.tls } : {}),
      ...(this.opts.timers ? { timers: this.opts.timers } : {}),
      ...(this.opts.registrar && !this.location ? { registrar: this.opts.registrar } : {}),
      ...(this.opts.connectionLimits ? { connectionLimits: this.opts.connectionLimits } : {}),
      ...(this.opts.messageLimits ? { messageLimits: this.opts.messageLimits } : {}),
      ...(this.opts.algorithms ? { algorithms: this.opts.algorithms } : {}),
      guard: { rate, burst: rate * 2 },
      // Presence answers SUBSCRIBE / PUBLISH in the request phase; media relaying hooks the forward phase (SDP rewriting).
      interceptors: [...(this.presence ? [this.presence.edge] : []), ...(this.media ? [pluginInterceptor("media", this.media, ctx.logger.child({ part: "media" }))] : [])],
      ...(this.opts.userAgent ? { userAgent: this.opts.userAgent } : {}),
      ...(this.opts.openShared ? { openShared: this.opts.openShared } : {}),
    });
    await this.server.start();
    const sweep = () => {
      this.location?.sweep();
      this.presence?.agent.tick();
      if (!this.stopped) this.sweepTimer = ctx.clock.setTimeout(sweep, 1000);
    };
    if (this.location || this.presence) sweep();
    this.log.info({ listen: this.listeners(), domains: this.opts.domains, distributed: distributed !== undefined }, "SIP service listening");
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.location?.stop();
    this.media?.stop();
    await this.server?.stop();
    this.memberLink?.close();
    this.server = undefined;
    await this.opts.subscribers?.stop();
  }

  readiness(): RoleReadiness {
    if (!this.server) return { ok: false, detail: "not started" };
    return this.opts.subscribers?.readiness() ?? { ok: true, detail: "users file" };
  }

  onMembership({ map }: MembershipUpdate): void {
    this.location?.onMembership(map);
    this.presence?.agent.onMembership(map);
    this.opts.subscribers?.onMembership(map);
  }

  /** The presence agent (holder side) and its interceptor (edge side). */
  private presenceFeature(ctx: RoleContext, cluster: { self: string; control: NonNullable<RoleContext["control"]> } | undefined): PresenceFeature {
    const opts = this.opts.presence || {};
    const subscribers = this.opts.subscribers;
    return presenceFeature({
      clock: ctx.clock,
      logger: ctx.logger.child({ part: "presence" }),
      domains: this.opts.domains,
      server: () => this.server,
      ...opts,
      ...(subscribers
        ? {
            loadRules: (aor: string) => subscribers.readXcapDocument({ auid: "pres-rules", xui: `sip:${aor}`, name: "index" }),
            loadDocument: (key: XcapDocumentKey) => subscribers.readXcapDocument(key),
            loadXcapState: async (aor: string) => ({ root: xcapRoot(ctx.roleMap(), aor), documents: (await subscribers.listXcapDocuments(`sip:${aor}`)).map((d) => ({ sel: xcapSel(d.auid, `sip:${aor}`, d.name), etag: d.etag })) }),
          }
        : {}),
      ...(cluster && this.location ? { cluster: { ...cluster, location: this.location, map: () => ctx.roleMap() } } : {}),
    });
  }

  /** The member link of the internal SIP listener: nodes only, bound to the addresses of their certificates. */
  private internalLink(identity: NonNullable<RoleContext["identity"]>): MemberLink {
    const nodes = [parsePassport("OU=node")];
    this.memberLink = new MemberLink({
      identity,
      passports: nodes,
      addressBound: nodes,
      onRefused: ({ reason, remote, peer }) => this.log?.warn({ remote, ...(peer ? { peer: formatSubject(peer.subject) } : {}), reason }, "internal SIP peer refused"),
    });
    return this.memberLink;
  }

  /** The credentials this node answers for itself. */
  private local(): CredentialStore {
    return this.opts.subscribers ?? this.opts.credentials;
  }

  advertise(): RoleAdvertisement {
    const ports: Record<string, number> = {};
    const shared = this.opts.listen.find((l) => l.shared);
    // A SIP worker's ports on the host's address (the shared one, its own Via port) are not at its member address,
    // which is what the membership (and thor dns) pairs ports with: the host's UDP address is published by the operator.
    const onHost = (l: ListenSpec) => l.shared === true || this.opts.listen.some((s) => s.shared && s.host === l.host && s.transport === l.transport);
    for (const l of this.server?.transport.bound() ?? []) if (!onHost(l)) ports[l.internal ? "sip_int" : `sip_${l.transport}`] ??= l.boundPort;
    // A SIP worker names the host whose shared port it serves: holders of an AOR are picked on distinct hosts first.
    return { ports, ...(shared ? { attrs: { [SIP_HOST_ATTR]: shared.advertise ?? shared.host } } : {}) };
  }

  statistics(): Record<string, number> {
    if (!this.server) return {};
    const store = this.server.proxy.location.store;
    const tx = this.server.proxy.transactions.counts;
    return { ...this.server.proxy.counters, flowBindingsRemoved: this.server.proxy.flows.failed, transactions: tx.server + tx.client, bindings: store.size, aors: store.aorCount, ...(this.location?.stats ?? {}), ...(this.opts.subscribers?.statistics() ?? {}), ...(this.xcapChanges ? { xcapChanges: this.xcapChanges.stats.received } : {}), ...(this.media?.stats ?? {}), ...(this.presence ? presenceStatistics(this.presence.agent) : {}) };
  }

  /** The local store first; a subscriber we do not know is asked of its holders, like its registrations. */
  private remoteCredentials(control: NonNullable<RoleContext["control"]>, location: DistributedLocation): AsyncCredentialStore {
    const local = this.local();
    // HA1 is password-equivalent: only a live sip_proxy member (an edge authenticating a client) may ask, and only a holder of the account answers.
    control.handle("sip.credentials", (p, peer) => {
      location.requireSipProxy(peer, "sip.credentials");
      const r = credentialsCall.safeParse(p);
      if (!r.success) throw new LocationRequestError(`invalid request: ${r.error.issues[0]?.message ?? "bad shape"}`);
      location.requireHolder(`${r.data.username}@${r.data.realm}`, "sip.credentials");
      return local.lookup(r.data.username, r.data.realm) ?? null;
    });
    return {
      lookup: async (username: string, realm: string): Promise<Credentials | undefined> => {
        const here = local.lookup(username, realm);
        if (here) return here;
        try {
          const v = await location.readViaHolders(`${username}@${realm}`, () => null, "sip.credentials", { username, realm }, () => undefined, (a) => parseAnswer(credentialsAnswer, a, "sip.credentials"));
          return v === null ? undefined : (v as Credentials);
        } catch (err) {
          this.log?.warn({ username, err: describeError(err) }, "no holder of the account answered");
          throw new CredentialsUnavailableError(`no holder of ${username}@${realm} answered`);
        }
      },
    };
  }

  private listeners(): string[] {
    return (this.server?.transport.bound() ?? []).map((b) => `${b.internal ? "internal-" : ""}${b.transport}:${b.host}:${b.boundPort}`);
  }
}

/** How the proxy reaches other members: their internal listeners, from the membership. */
function clusterHooks(self: string, map: () => RoleMap | undefined, host: string | undefined, unavailable: ClusterHooks["unavailable"]): ClusterHooks {
  return {
    self,
    unavailable,
    sameHost(edge: string): boolean {
      return host !== undefined && map()?.members.find((e) => e.id === edge)?.attrs[SIP_HOST_ATTR] === host;
    },
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

/**
 * Mutual TLS between members' internal SIP listeners, through the shared
 * member link: certificates of the operator CA with OU=node, at (and
 * connecting from) an address of their certificate; connections of a peer
 * revoked later are cut, however busy.
 */
function peerTls(link: MemberLink): PeerTls {
  return {
    server: () => link.serverOptions(),
    client: () => link.clientOptions(),
    authorize(socket, dialled) {
      const v = dialled ? link.verifyDialled(socket, { host: dialled.address }) : link.accept(socket);
      return v.ok ? { ok: true, peer: v.peer.subject["CN"] ?? "?" } : { ok: false, reason: v.reason };
    },
    follow: (server) => link.follow(server),
  };
}

/** The XCAP root of the xcap_server a user's documents are read from (the user's successor on that ring), for xcap-diff documents. */
function xcapRoot(map: RoleMap | undefined, aor: string): string {
  const m = map?.successors("xcap_server", aor, 1)[0];
  const port = m?.ports["xcap"];
  if (!m || port === undefined) return `${DEFAULT_XCAP_ROOT}/`;
  const root = typeof m.attrs["xcap_root"] === "string" ? m.attrs["xcap_root"] : DEFAULT_XCAP_ROOT;
  return `${m.attrs["xcap_tls"] === true ? "https" : "http"}://${m.ip}:${port}${root}/`;
}
