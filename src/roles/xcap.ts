/**
 * The `xcap_server` role: the XCAP server (src/xcap) over the central
 * database that `thor database` announces. Users authenticate with HTTP
 * digest against their provisioned SIP credentials (HA1 read from the
 * database, realm = the domain of the documents asked for); operators with
 * a provisioning API token (`Authorization: Bearer`). After each committed
 * write the responsible sip_proxy node is told (`xcap.changed`).
 */
import { describeError, type Logger } from "../base/index.js";
import type { DatabaseCluster } from "../db/index.js";
import type { Role, RoleAdvertisement, RoleContext } from "../node/index.js";
import { SubscriberCache, TokenRing, type ApiToken } from "../provisioning/index.js";
import { DigestAuthenticator, type DigestAlgorithm } from "../sip/index.js";
import { DEFAULT_XCAP_PORT, DEFAULT_XCAP_ROOT, XcapServer, XcapService, xcapRequestChannel, type XcapAuthenticator, type XcapAuthRequest, type XcapAuthResult, type XcapLimits } from "../xcap/index.js";
import { subscribe } from "../base/index.js";
import { followDatabases } from "./databases.js";
import { XcapChangeNotifier } from "./xcap-changes.js";

export interface XcapRoleOptions {
  /** Listen address. @default the node's ip */
  host?: string;
  /** @default DEFAULT_XCAP_PORT (9290) */
  port?: number;
  /** @default "/xcap-root" */
  root?: string;
  /** Domains whose users' documents are served. */
  domains: string[];
  /** Operator tokens (the provisioning API's). */
  tokens: ApiToken[];
  /** Digest algorithms offered, preferred first. @default ["SHA-256", "MD5"] */
  algorithms?: DigestAlgorithm[];
  /** PEM certificate and key: serve HTTPS. */
  tls?: { cert: string; key: string };
  /** Databases used when none is announced (tests). */
  dburis?: string[];
  limits?: Partial<XcapLimits>;
  /** sip_proxy holders tried for `xcap.changed`. @default 2 */
  holders?: number;
}

/**
 * Digest against the provisioned accounts (RFC 7616 with the SIP stack's
 * authenticator: nonces signed and timed, nonce counts must grow), or a
 * bearer token of an operator.
 */
export class ProvisionedXcapAuthenticator implements XcapAuthenticator {
  private readonly realms = new Map<string, DigestAuthenticator>();
  private readonly tokens: TokenRing;

  constructor(
    private readonly accounts: SubscriberCache,
    tokens: readonly ApiToken[],
    private readonly algorithms: DigestAlgorithm[] = ["SHA-256", "MD5"],
  ) {
    this.tokens = new TokenRing(tokens);
  }

  async authenticate(req: XcapAuthRequest): Promise<XcapAuthResult> {
    const digest = this.digestFor(req.realm);
    const h = req.authorization;
    if (h && /^bearer\s/i.test(h)) {
      const t = this.tokens.verify(h.replace(/^bearer\s+/i, "").trim());
      return t ? { ok: true, principal: { kind: "operator", name: t.name, write: t.scope === "write" } } : { ok: false, status: 401, reason: "unknown token", challenges: digest.challenges() };
    }
    const d = digest.pick(h ? [h] : []);
    if (!("response" in d)) return { ok: false, status: 401, reason: d.reason === "no-credentials" ? "credentials required" : "malformed credentials", challenges: digest.challenges() };
    // RFC 7616 3.4.6: the digest must be for this request target.
    if (d.uri !== req.target) return { ok: false, status: 401, reason: "the digest uri is not the request target", challenges: digest.challenges() };
    const creds = await this.accounts.lookupAnywhere(d.username, req.realm);
    const v = digest.check(req.method, { requestUri: req.target }, d, creds);
    if (v.ok) return { ok: true, principal: { kind: "user", aor: `${v.username}@${req.realm}` } };
    if (v.reason === "blocked") return { ok: false, status: 403, reason: "the account is blocked", challenges: [] };
    return { ok: false, status: 401, reason: v.reason, challenges: digest.challenges(v.reason === "stale") };
  }

  /** One authenticator per served realm (the server refuses other domains before asking). */
  private digestFor(realm: string): DigestAuthenticator {
    let a = this.realms.get(realm);
    if (!a) this.realms.set(realm, (a = new DigestAuthenticator(undefined, { realm, algorithms: this.algorithms })));
    return a;
  }
}

export class XcapServerRole implements Role {
  readonly name = "xcap_server";
  private server: XcapServer | undefined;
  private cluster: DatabaseCluster | undefined;
  private notifier: XcapChangeNotifier | undefined;
  private offs: Array<() => void> = [];
  private port = 0;
  private log: Logger | undefined;
  private readonly counters = { requests: 0, errors: 0, changes: 0 };

  constructor(private readonly opts: XcapRoleOptions) {}

  get url(): string | undefined {
    return this.server?.url;
  }

  async start(ctx: RoleContext): Promise<void> {
    const log = (this.log = ctx.logger.child({ part: "xcap" }));
    const dbs = followDatabases(ctx, log, { migrate: true, ...(this.opts.dburis ? { fixed: this.opts.dburis } : {}) });
    this.cluster = dbs.cluster;
    this.offs.push(
      dbs.stop,
      subscribe<{ status: number }>(xcapRequestChannel.name, (m) => {
        this.counters.requests++;
        if (m.status >= 400) this.counters.errors++;
      }),
    );
    if (ctx.control) this.notifier = new XcapChangeNotifier({ control: ctx.control, map: () => ctx.roleMap(), logger: log, ...(this.opts.holders ? { holders: this.opts.holders } : {}) });
    const accounts = new SubscriberCache({ source: this.cluster, logger: log });
    const service = new XcapService({
      source: this.cluster,
      ...(this.opts.limits ? { limits: this.opts.limits } : {}),
      onChange: (change) => {
        this.counters.changes++;
        void this.notifier?.notify({ ...change, ...(this.server?.url ? { root: this.server.url } : {}) }).catch((err: unknown) => log.warn({ err: describeError(err) }, "xcap.changed failed"));
      },
    });
    this.server = new XcapServer({
      service,
      authenticator: new ProvisionedXcapAuthenticator(accounts, this.opts.tokens, this.opts.algorithms),
      logger: log,
      domains: this.opts.domains,
      host: this.opts.host ?? ctx.self().ip,
      port: this.opts.port ?? DEFAULT_XCAP_PORT,
      ...(this.opts.root ? { root: this.opts.root } : {}),
      ...(this.opts.tls ? { tls: this.opts.tls } : {}),
      ...(this.opts.limits?.maxDocumentBytes ? { maxBodyBytes: this.opts.limits.maxDocumentBytes } : {}),
    });
    this.port = (await this.server.start()).port;
    log.info({ url: this.server.url, domains: this.opts.domains }, "XCAP server listening");
  }

  async stop(): Promise<void> {
    for (const off of this.offs) off();
    this.offs = [];
    await this.server?.stop();
    await this.cluster?.close();
  }

  advertise(): RoleAdvertisement {
    return this.port ? { ports: { xcap: this.port }, attrs: { xcap_tls: this.opts.tls !== undefined, xcap_root: (this.opts.root ?? DEFAULT_XCAP_ROOT).replace(/\/+$/, "") } } : {};
  }

  statistics(): Record<string, number> {
    return { ...this.counters, notified: this.notifier?.stats.sent ?? 0, notifyFailures: this.notifier?.stats.failed ?? 0 };
  }
}
