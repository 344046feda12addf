/**
 * The stateful proxy core (RFC 3261 16) with the registrar and digest
 * authentication in front of it: request validation (16.3), route
 * processing and strict-router handling (16.4), target determination from
 * the location service (16.5), forwarding with Via, Max-Forwards,
 * Record-Route and loop detection (16.6), response handling with parallel
 * forking, best-response selection, CANCEL of pending branches and Timer C
 * (16.7, 16.8, 16.10), stateless forwarding of ACK for 2xx; responses
 * matching no transaction are dropped (RFC 6026).
 */
import { createHash } from "node:crypto";
import { describeError, KeyRing, systemClock, type Clock, type Logger, type TimerHandle } from "../../base/index.js";
import { aorOf, canonicalHost, createResponse, formatUri, parseNameAddr, parseUri, serializeMessage, splitList, isToken, SipRequest, type SipResponse, type SipUri } from "../message/index.js";
import { MAGIC_COOKIE, TransactionLayer, type ClientTransaction, type ServerTransaction, type TimerConfig } from "../transaction/index.js";
import type { Flow, TransportLayer, TransportName } from "../transport/index.js";
import { DigestAuthenticator, type AsyncCredentialStore, type CredentialStore } from "../auth/index.js";
import { LocalLocation, Registrar, registerAor, registerData, type Binding, type LocationService, type RegistrarOptions } from "../registrar/index.js";
import { nextHopUri, resolveUri, type Destination, type SipResolver } from "./targets.js";
import { addressRef, decodeFlowToken, encodeFlowToken, flowRef, isFlowToken, parseFlowRef, udpRef, type FlowRef, type TokenKind } from "./flow-token.js";
import { Guard, type GuardOptions } from "./guard.js";
import { isRejection, type ProxyPlugin, type ResponseHandler } from "./pipeline.js";

export interface ProxyOptions {
  logger: Logger;
  transport: TransportLayer;
  /** Domains we are responsible for (registrar and proxy for their users). */
  domains: string[];
  credentials: CredentialStore | AsyncCredentialStore;
  /** Where bindings live. @default this proxy's own registrar store */
  location?: LocationService;
  /** Set when this proxy is one node of the distributed service. */
  cluster?: ClusterHooks;
  clock?: Clock;
  timers?: Partial<TimerConfig>;
  registrar?: RegistrarOptions;
  /** Timer C: an INVITE branch without a final response is cancelled after this. @default 180 s */
  timerCMs?: number;
  guard?: GuardOptions;
  /** Digest algorithms offered, preferred first. @default ["SHA-256", "MD5"] */
  algorithms?: Array<"MD5" | "SHA-256">;
  userAgent?: string;
  /** DNS for RFC 3263 resolution of targets. @default the system's */
  resolver?: SipResolver;
  /** Features that see requests before they are forwarded and their responses before they are relayed (pipeline.ts). */
  plugin?: ProxyPlugin;
  /**
   * Keys that sign our Record-Route entries, flow tokens and digest nonces:
   * the cluster secret, so every member verifies what another signed.
   * @default an ephemeral key (dialogs do not survive a restart)
   */
  keys?: KeyRing;
  /** Domains whose phones may answer digest challenges without qop (one answer per nonce). @default none */
  digestWithoutQop?: string[];
}

/** How long a Record-Route token stays valid: longer than any dialog we expect (docs/security.md). @default 24 h */
export const RECORD_ROUTE_TOKEN_TTL_S = 24 * 3600;
/** Option tags this proxy supports in Proxy-Require (RFC 3261 16.3 step 5). */
export const SUPPORTED_PROXY_OPTIONS: readonly string[] = ["path"];
/** Identity headers only members may assert (RFC 3325 trust domain: the cluster). */
const IDENTITY_HEADERS = ["p-asserted-identity", "p-preferred-identity", "remote-party-id"] as const;

/**
 * What the proxy needs to know of the other members when it is one node of
 * the distributed service. Requests arriving on the internal listener come
 * from members, which have authenticated the client already.
 */
export interface ClusterHooks {
  /** This member's id: bindings registered through us name it as their edge. */
  readonly self: string;
  /**
   * The internal listener of member `edge` (host as written in a URI), or
   * undefined when that member is gone. The proxy writes the Route to it,
   * with a signed flow token in the user part.
   */
  edgeAddress(edge: string): { host: string; port: number } | undefined;
  /** Whether `address:port` is another member's internal SIP listener. */
  isPeer(address: string, port: number): boolean;
  /** Whether this member is draining: it takes no new registrations or calls from clients. */
  draining?(): boolean;
}

interface Branch {
  request: SipRequest;
  tx: ClientTransaction | undefined;
  dest: Destination | undefined;
  flow: Flow | undefined;
  status: number;
  cancelWanted: boolean;
  cancelled: boolean;
  timerC: TimerHandle | undefined;
}

/** Retry-After (seconds) of the 503 a draining member answers to new requests. */
const DRAIN_RETRY_AFTER_S = 5;

/** RFC 3261 16.7: the context that collects the responses of all branches of one request. */
class ResponseContext {
  readonly branches: Branch[] = [];
  best: SipResponse | undefined;
  finalSent = false;
  /** The plugin's handler of this request's responses, and the queue that keeps them in order while it works. */
  handler: ResponseHandler | undefined;
  queue: Promise<void> = Promise.resolve();
  completed = false;
  constructor(
    readonly server: ServerTransaction,
    readonly request: SipRequest,
  ) {}
}

export class SipProxy {
  readonly transactions: TransactionLayer;
  readonly registrar: Registrar;
  readonly auth: DigestAuthenticator;
  readonly guard: Guard;
  readonly location: LocationService;
  private readonly clock: Clock;
  private readonly log: Logger;
  private readonly domains: Set<string>;
  private readonly keys: KeyRing;
  private readonly contexts = new Map<ServerTransaction, ResponseContext>();
  private sweeper: ReturnType<typeof setInterval> | undefined;
  readonly counters = { requests: 0, registrations: 0, calls: 0, forwarded: 0, challenges: 0, authFailures: 0, rejected: 0, strays: 0 };

  constructor(private readonly opts: ProxyOptions) {
    this.clock = opts.clock ?? systemClock;
    this.log = opts.logger;
    this.domains = new Set(opts.domains.map(canonicalHost));
    this.keys = opts.keys ?? KeyRing.ephemeral();
    this.registrar = new Registrar(opts.registrar);
    this.location = opts.location ?? new LocalLocation(this.registrar, () => this.clock.wallNow());
    this.auth = new DigestAuthenticator(undefined, {
      realm: canonicalHost(opts.domains[0] ?? "sipthor"),
      keys: this.keys,
      ...(opts.cluster ? { issuer: opts.cluster.self } : {}),
      algorithms: opts.algorithms ?? ["SHA-256", "MD5"],
      ...(opts.digestWithoutQop ? { noQopRealms: opts.digestWithoutQop } : {}),
    });
    this.guard = new Guard(opts.guard ?? {}, () => this.clock.now());
    this.transactions = new TransactionLayer(
      { onRequest: (r, f, t) => this.onRequest(r, f, t), onStrayResponse: (r, f) => this.dropStray(r, f) },
      (bytes, tx) => this.sendResponseBytes(bytes, tx.flow, tx.request),
      { clock: this.clock, logger: opts.logger, ...(opts.timers ? { timers: opts.timers } : {}) },
    );
    // The guard's rate limit runs in the transport (for every message, before parsing); see SipServer.
    opts.transport.onMessage = (inbound) => this.transactions.receive(inbound);
  }

  start(): void {
    this.sweeper = setInterval(() => {
      this.registrar.store.sweep(this.clock.wallNow());
      this.auth.sweep();
      this.guard.sweep();
    }, 1000);
    this.sweeper.unref();
  }

  stop(): void {
    if (this.sweeper) clearInterval(this.sweeper);
  }

  /** Whether a URI names us: one of our domains or one of our listening addresses. */
  isLocal(uri: SipUri): boolean {
    const host = canonicalHost(uri.host.replace(/^\[|\]$/g, ""));
    if (this.domains.has(host)) return true;
    return this.opts.transport.bound().some((l) => (l.advertise ?? l.host) === host && (uri.port === undefined || uri.port === l.boundPort));
  }

  /** Whether `text` is `sip:host:port` of one of our listeners (no user part, explicit port). */
  private namesListener(text: string): boolean {
    const p = parseUri(text);
    if (!p.ok || p.uri.kind !== "sip" || p.uri.user !== undefined || p.uri.port === undefined) return false;
    const { host, port } = p.uri;
    const bare = host.replace(/^\[|\]$/g, "");
    return this.opts.transport.bound().some((l) => (l.advertise ?? l.host) === bare && port === l.boundPort);
  }

  // ---------------------------------------------------------------- requests

  private onRequest(req: SipRequest, flow: Flow, tx: ServerTransaction | undefined): void {
    this.counters.requests++;
    try {
      if (!tx) {
        this.forwardAck(req, flow);
        return;
      }
      if (req.method === "INVITE") tx.respond(createResponse(req, 100));
      if (req.method === "CANCEL") {
        this.cancel(req, tx);
        return;
      }
      void this.route(req, flow, tx).catch((err: unknown) => {
        this.log.error({ err: describeError(err), method: req.method }, "request handling failed");
        this.reply(tx, req, 500, "Server Internal Error");
      });
    } catch (err) {
      this.log.error({ err: describeError(err), method: req.method }, "request handling failed");
      if (tx) this.reply(tx, req, 500, "Server Internal Error");
    }
  }

  private reply(tx: ServerTransaction, req: SipRequest, status: number, reason?: string, extra: Array<[string, string]> = []): void {
    if (status >= 400) this.counters.rejected++;
    tx.respond(createResponse(req, status, reason, this.opts.userAgent ? [["Server", this.opts.userAgent], ...extra] : extra));
  }

  /** RFC 3261 16.3 - 16.5: validate, process routes, then act as registrar or proxy. */
  private async route(req: SipRequest, flow: Flow, tx: ServerTransaction): Promise<void> {
    // 16.3 step 3: Max-Forwards.
    const mfText = req.get("max-forwards");
    const mf = mfText === undefined ? 70 : Number(mfText);
    // 16.3 step 4: loop detection.
    if (this.looped(req)) return this.reply(tx, req, 482, "Loop Detected");
    // 16.3 step 5: "If the request contains a Proxy-Require header field with one or more
    // option-tags this element does not understand, the element MUST return a 420 (Bad
    // Extension) response. The response MUST include an Unsupported header field".
    const unsupported = unsupportedOptions(req);
    if (unsupported === undefined) return this.reply(tx, req, 400, "Bad Request (malformed Proxy-Require)");
    if (unsupported.length > 0) return this.reply(tx, req, 420, "Bad Extension", [["Unsupported", unsupported.join(", ")]]);
    const ruriParsed = parseUri(req.uri);
    if (!ruriParsed.ok) return this.reply(tx, req, 400, "Bad Request-URI");
    if (ruriParsed.uri.kind !== "sip") return this.reply(tx, req, 416, "Unsupported URI Scheme");
    let ruri = ruriParsed.uri;
    const requestUri = req.uri;
    // 16.4: "If the Request-URI contains a value this proxy previously placed into a
    // Record-Route header field", a strict router upstream put it there: the last Route
    // is the real target. Ours are those that carry our token.
    const routes = req.getAll("route");
    let strict: ReturnType<typeof decodeFlowToken> | undefined;
    if (this.isLocal(ruri) && isFlowToken(ruri.user) && routes.length > 0) {
      const na = parseNameAddr(routes[routes.length - 1]!);
      if (na.ok && na.value.uri.kind === "sip") {
        strict = decodeFlowToken(this.keys, ruri.user!, { host: ruri.host, port: ruri.port ?? 0, callId: req.callId }, this.clock.wallNow() / 1000);
        req.uri = formatUri(na.value.uri);
        req.set("route", routes.slice(0, -1).join(", "));
        if (routes.length === 1) req.remove("route");
        ruri = na.value.uri;
      }
    }
    // 16.4: pop our own Route (two of them where we record-routed twice), keeping their flow tokens.
    const own = this.popOwnRoutes(req);
    if (strict?.ok === false) own.forged ??= strict.reason;
    else if (strict?.ok) {
      own.hints.push(...strict.refs);
      own.dialog = true;
    }
    if (own.forged !== undefined) {
      this.log.info({ source: `${flow.remote.address}:${flow.remote.port}`, method: req.method, reason: own.forged }, "request with an invalid route token refused");
      return this.reply(tx, req, 403, "Forbidden (invalid route token)");
    }
    const hints = own.hints;
    const hasRoute = req.getAll("route").length > 0;
    // Requests on the internal listener come from members that authenticated the client already.
    const trusted = flow.peer !== undefined;
    // RFC 3325: only members assert identities; what a client claims is removed.
    if (!trusted) stripIdentity(req);
    // An in-dialog request proves it belongs to a dialog we record-routed by bringing our
    // signed Record-Route back; any other (a To tag alone proves nothing) is treated as an
    // initial request: authenticated when it comes from our users, else refused unless it
    // goes to one of them.
    const inDialog = req.to?.params.get("tag") !== undefined && own.dialog;
    // A draining member takes nothing new from clients: 503 with Retry-After sends them to the next
    // server of their RFC 3263 list (RFC 3261 21.5.4); in-dialog requests and other members' requests go on.
    if (!trusted && !inDialog && req.method !== "ACK" && req.method !== "CANCEL" && this.opts.cluster?.draining?.() === true) {
      return this.reply(tx, req, 503, "Service Unavailable (draining)", [["Retry-After", String(DRAIN_RETRY_AFTER_S)]]);
    }

    if (!hasRoute && this.isLocal(ruri) && (ruri.user === undefined || req.method === "REGISTER")) {
      // Addressed to us.
      if (req.method === "REGISTER") return this.register(req, flow, tx, requestUri);
      if (req.method === "OPTIONS") return this.reply(tx, req, 200, "OK", [["Allow", "INVITE, ACK, CANCEL, BYE, OPTIONS, REGISTER, MESSAGE, SUBSCRIBE, NOTIFY, REFER, INFO, UPDATE, PRACK"], ["Accept", "application/sdp"]]);
      return this.reply(tx, req, 404, "Not Found");
    }
    if (mf <= 0) return req.method === "OPTIONS" && this.isLocal(ruri) ? this.reply(tx, req, 200) : this.reply(tx, req, 483, "Too Many Hops");
    req.set("max-forwards", String(mf - 1));

    const fromUri = req.from?.uri;
    const fromDomain = fromUri?.kind === "sip" ? canonicalHost(fromUri.host) : undefined;
    const toLocalDomain = this.domains.has(canonicalHost(ruri.host));

    if (trusted || inDialog) {
      // authenticated and relay-checked by the member that received it, or part of a dialog we record-routed
    } else if (fromDomain !== undefined && this.domains.has(fromDomain)) {
      // Our users authenticate in the realm of their own domain.
      const verdict = await this.verify(req.method, req.getAll("proxy-authorization"), fromDomain, requestUri);
      if (!verdict.ok) return verdict.reason === "blocked" ? this.reply(tx, req, 403, "Forbidden (account blocked)") : this.challenge(req, flow, tx, 407, verdict.reason, fromDomain);
      const identity = `${verdict.username}@${fromDomain}`;
      if (aorOf(fromUri!) !== identity) return this.reply(tx, req, 403, "Forbidden (From does not match credentials)");
      req.remove("proxy-authorization");
      // RFC 3325 9.1: towards the trust domain, assert who authenticated.
      req.set("p-asserted-identity", `<sip:${verdict.username}@${fromDomain}>`);
    } else if (!toLocalDomain || hasRoute) {
      // 16.x: relaying for foreign users is refused: to foreign domains, and along a
      // pre-loaded Route to another host (only our own users, authenticated, may pre-load routes).
      return this.reply(tx, req, 403, "Relaying Denied");
    }

    if (!hasRoute && toLocalDomain && ruri.user !== undefined) {
      const aor = aorOf(ruri)!;
      const bindings = await this.location.lookup(aor);
      if (bindings.length === 0) {
        const at = aor.lastIndexOf("@");
        const known = (await this.opts.credentials.lookup(aor.slice(0, at), aor.slice(at + 1))) !== undefined;
        return this.reply(tx, req, known ? 480 : 404, known ? "Temporarily Unavailable" : "Not Found");
      }
      return this.forward(req, flow, tx, bindings.map((b) => ({ uri: b.uri, binding: b })));
    }
    // In-dialog or routed request: one target, the Request-URI (the route set decides the next hop).
    const binding = hasRoute ? undefined : this.registrar.store.byContact(formatUri(ruri), this.clock.wallNow());
    return this.forward(req, flow, tx, [{ uri: req.uri, binding, hints: hasRoute ? [] : hints }], inDialog && !trusted ? hints : undefined);
  }

  /** Digest verification in `realm` against a credential store that may answer asynchronously (a remote node). */
  private async verify(method: string, headers: readonly string[], realm: string, requestUri: string): Promise<ReturnType<DigestAuthenticator["check"]>> {
    const d = this.auth.pick(headers, realm);
    if (!("response" in d)) return d;
    return this.auth.check(method, { requestUri, namesServer: (uri) => this.namesListener(uri) }, d, await this.opts.credentials.lookup(d.username, d.realm));
  }

  /**
   * RFC 3261 16.4: remove the Route entries that name us. Returns the flow
   * references their tokens carried, whether one was a Record-Route token of
   * ours for this Call-ID (proof of a dialog we record-routed), or why a
   * token did not verify (the request is then refused, its Route never used).
   * The Route list is split once and written back once (linear in the
   * message, whatever the number of entries).
   */
  private popOwnRoutes(req: SipRequest): { hints: FlowRef[]; dialog: boolean; forged: string | undefined } {
    const hints: FlowRef[] = [];
    let dialog = false;
    let forged: string | undefined;
    const nowSec = this.clock.wallNow() / 1000;
    const routes = req.getAll("route");
    let ours = 0;
    for (const route of routes) {
      const na = parseNameAddr(route);
      if (!na.ok || na.value.uri.kind !== "sip" || !this.isLocal(na.value.uri)) break;
      const uri = na.value.uri;
      if (isFlowToken(uri.user)) {
        const v = decodeFlowToken(this.keys, uri.user!, { host: uri.host, port: uri.port ?? 0, callId: req.callId }, nowSec);
        if (!v.ok) {
          forged = v.reason;
          break;
        }
        hints.push(...v.refs);
        dialog = true;
      }
      ours++;
    }
    if (ours === routes.length && ours > 0) req.remove("route");
    else if (ours > 0) req.set("route", routes.slice(ours).join(", "));
    return { hints, dialog, forged };
  }

  /** `<sip:TOKEN@host:port;...;lr>`: a URI of ours carrying a signed token for `refs`. */
  private signedUri(kind: TokenKind, at: { host: string; port: number }, refs: readonly FlowRef[], callId: string, expiresSec: number, params: string): string {
    const user = encodeFlowToken(this.keys, refs, { kind, host: at.host, port: at.port, callId }, expiresSec);
    return `<sip:${user}@${at.host}:${at.port}${params};lr>`;
  }

  private challenge(req: SipRequest, flow: Flow, tx: ServerTransaction, status: 401 | 407, reason: string, realm: string): void {
    if (reason !== "no-credentials" && reason !== "stale") {
      this.counters.authFailures++;
      const penalty = this.guard.authFailure(flow);
      if (penalty === "ban") this.log.warn({ source: flow.remote.address, transport: flow.transport }, "too many authentication failures, source banned");
      else if (penalty === "throttle") this.log.warn({ source: flow.remote.address, transport: flow.transport }, "too many authentication failures over UDP, source throttled (not banned: UDP sources can be spoofed)");
      this.log.info({ source: flow.remote.address, method: req.method, reason }, "authentication failed");
    }
    this.counters.challenges++;
    const name = status === 401 ? "WWW-Authenticate" : "Proxy-Authenticate";
    this.reply(tx, req, status, status === 401 ? "Unauthorized" : "Proxy Authentication Required", this.auth.challenges(reason === "stale", realm).map((c) => [name, c] as [string, string]));
  }

  private async register(req: SipRequest, flow: Flow, tx: ServerTransaction, requestUri: string): Promise<void> {
    // RFC 3261 10.3 step 3: the To header field names the AOR, a SIP or SIPS URI.
    if (req.to?.uri.kind !== "sip") return this.reply(tx, req, 400, "Bad Request (To is not a SIP or SIPS URI)");
    const aor = registerAor(req);
    if (!aor) return this.reply(tx, req, 400, "Bad Request (To names no user)");
    const at = aor.lastIndexOf("@");
    const domain = aor.slice(at + 1);
    if (!this.domains.has(domain)) return this.reply(tx, req, 403, "Domain Not Served");
    // The realm is the AOR's domain: alice@a's password does not register alice@b.
    const verdict = await this.verify("REGISTER", req.getAll("authorization"), domain, requestUri);
    if (!verdict.ok) return verdict.reason === "blocked" ? this.reply(tx, req, 403, "Forbidden (account blocked)") : this.challenge(req, flow, tx, 401, verdict.reason, domain);
    if (verdict.username !== aor.slice(0, at)) return this.reply(tx, req, 403, "Forbidden (credentials are for another user)");
    const outcome = await this.location.register(aor, registerData(req, flow, this.opts.cluster?.self));
    const now = this.clock.wallNow();
    if (outcome.status !== 200) {
      return this.reply(tx, req, outcome.status, outcome.reason, outcome.minExpires ? [["Min-Expires", String(outcome.minExpires)]] : []);
    }
    this.counters.registrations++;
    const extra: Array<[string, string]> = Registrar.contactHeaders(outcome, now).map((c) => ["Contact", c] as [string, string]);
    extra.push(["Date", new Date(this.clock.wallNow()).toUTCString()]);
    this.reply(tx, req, 200, "OK", extra);
  }

  // ---------------------------------------------------------------- forwarding

  private branchId(req: SipRequest): string {
    // RFC 3261 16.6 step 8: a branch that lets loop detection recognize this request.
    const h = createHash("sha1").update(`${req.uri}|${req.from?.params.get("tag") ?? ""}|${req.to?.params.get("tag") ?? ""}|${req.callId}|${req.cseq.seq}|${req.getAll("route")[0] ?? ""}`).digest("base64url").slice(0, 10);
    return `${MAGIC_COOKIE}-t${h}-${Math.random().toString(36).slice(2, 10)}`;
  }

  private looped(req: SipRequest): boolean {
    const vias = req.vias;
    if (vias.length < 2) return false;
    const locals = this.opts.transport.bound();
    let probe: string | undefined; // hashed only when a Via of ours is there (never for a first hop)
    for (const v of vias.slice(1)) {
      const m = /branch=z9hG4bK-(t[A-Za-z0-9_-]{10})-/i.exec(v);
      if (!m || !locals.some((l) => v.includes(`${l.advertise ?? l.host}:${l.boundPort}`))) continue;
      probe ??= this.branchId(req).split("-")[1];
      if (m[1] === probe) return true;
    }
    return false;
  }

  private viaFor(transport: TransportName, branch: string, internal = false): string | undefined {
    const local = internal ? this.opts.transport.localInternal() : this.opts.transport.local(transport);
    if (!local) return undefined;
    return `SIP/2.0/${transport.toUpperCase()} ${local.host}:${local.port};branch=${branch};rport`;
  }

  /**
   * Our Record-Route entries (RFC 5658: two when the request changes
   * transport, or crosses between a client and the internal listener),
   * each carrying in its user part a token signed for this dialog (Call-ID)
   * that names the client-side flows of this hop, so in-dialog requests
   * coming back prove they belong to the dialog and leave on those flows.
   */
  private recordRoute(inbound: Leg, outbound: Leg, refs: readonly FlowRef[], callId: string): string[] {
    const expires = this.clock.wallNow() / 1000 + RECORD_ROUTE_TOKEN_TTL_S;
    const rr = (leg: Leg) => {
      const l = leg.internal ? this.opts.transport.localInternal() : this.opts.transport.local(leg.transport);
      return l ? this.signedUri("rr", l, refs, callId, expires, `;transport=${leg.transport}`) : undefined;
    };
    const a = rr(inbound);
    if (inbound.transport === outbound.transport && inbound.internal === outbound.internal) return a ? [a] : [];
    const b = rr(outbound);
    return [b, a].filter((x): x is string => x !== undefined);
  }

  /** A client-side flow named by a flow token that is still usable (not the one the request came from). */
  private hintedFlow(hints: readonly FlowRef[], inbound: Flow | undefined): { dest: Destination | undefined; flow: Flow | undefined } | undefined {
    const from = inbound ? flowRef(inbound) : undefined;
    for (const ref of hints) {
      if (ref === from) continue;
      const p = parseFlowRef(ref);
      if (!p) continue;
      if (p.kind === "udp") return { dest: { transport: "udp", address: p.address, port: p.port }, flow: undefined };
      if (p.kind === "address") return { dest: { transport: p.transport, address: p.address, port: p.port }, flow: undefined };
      const flow = this.opts.transport.flow(p.id);
      if (flow && !flow.closed && flow.peer === undefined) return { dest: undefined, flow };
    }
    return undefined;
  }

  /**
   * Whether the next hop of an in-dialog request from outside is one the
   * dialog was set up with (a flow or address in our token) or another
   * member: a party of the dialog reaches the other party, nobody else.
   */
  private withinDialog(refs: readonly FlowRef[], dest: Destination | undefined, flow: Flow | undefined): boolean {
    if (flow) {
      if (flow.peer !== undefined) return true;
      dest = { transport: flow.transport, address: flow.remote.address, port: flow.remote.port };
    }
    if (!dest) return true; // nowhere to send: answered 503
    if (dest.internal) return true;
    const to = dest;
    return refs.some((r) => {
      const p = parseFlowRef(r);
      if (!p) return false;
      if (p.kind === "connection") {
        const f = this.opts.transport.flow(p.id);
        return f !== undefined && f.transport === to.transport && f.remote.address === to.address && f.remote.port === to.port;
      }
      const transport = p.kind === "udp" ? "udp" : p.transport;
      return transport === to.transport && p.address === to.address && p.port === to.port;
    });
  }

  private async destinationFor(req: SipRequest, binding: Binding | undefined, hints: readonly FlowRef[] = [], inbound?: Flow): Promise<{ dest: Destination | undefined; flow: Flow | undefined }> {
    const hinted = req.getAll("route").length === 0 ? this.hintedFlow(hints, inbound) : undefined;
    if (hinted) return hinted;
    const cluster = this.opts.cluster;
    if (binding?.edge !== undefined && cluster && binding.edge !== cluster.self && req.getAll("route").length === 0) {
      // Reverse outbound: the client is reached through the member that holds its flow.
      // The token lives as long as the binding: the edge uses it for this request only.
      const at = cluster.edgeAddress(binding.edge);
      const ref = bindingFlowRef(binding);
      if (at) req.prepend("route", this.signedUri("flow", at, ref ? [ref] : [], req.callId, binding.expires / 1000, ";transport=tls"));
      else if (binding.transport === "udp") return { dest: { transport: "udp", address: binding.source.address, port: binding.source.port }, flow: undefined };
      else return { dest: undefined, flow: undefined };
    } else if (binding && req.getAll("route").length === 0) {
      // Reach the client where it registered from: over its connection while it is open
      // (clients seldom accept inbound connections), or at its UDP source address when
      // a NAT rewrote it or the client asked for outbound (RFC 5626).
      // Reach the client where it registered from (see bindingFlowRef).
      const ref = bindingFlowRef(binding);
      const p = ref ? parseFlowRef(ref) : undefined;
      if (p?.kind === "connection") {
        const flow = this.opts.transport.flow(p.id);
        if (flow && !flow.closed) return { dest: undefined, flow };
      } else if (p?.kind === "udp") return { dest: { transport: "udp", address: p.address, port: p.port }, flow: undefined };
    }
    const hop = nextHopUri(req);
    const dest = hop ? await resolveUri(hop, this.opts.resolver ? { resolver: this.opts.resolver } : {}) : undefined;
    if (dest && cluster && dest.transport === "tls" && cluster.isPeer(dest.address, dest.port)) dest.internal = true;
    return { dest, flow: undefined };
  }

  /** `confine`: for an in-dialog request from outside, the flow references of its tokens (see {@link withinDialog}). */
  private async forward(req: SipRequest, inFlow: Flow, tx: ServerTransaction, targets: Array<{ uri: string; binding: Binding | undefined; hints?: FlowRef[] }>, confine?: readonly FlowRef[]): Promise<void> {
    const verdict = this.opts.plugin ? await Promise.resolve(this.opts.plugin.onRequest({ request: req, source: source(inFlow), targets: targets.map((t) => ({ uri: t.uri, ...(t.binding ? { registeredFrom: t.binding.source.address } : {}) })) })).catch((err: unknown) => void this.log.error({ err: describeError(err), method: req.method }, "proxy plugin failed")) : undefined;
    if (isRejection(verdict)) return this.reply(tx, req, verdict.reject.status, verdict.reject.reason);
    const ctx = new ResponseContext(tx, req);
    ctx.handler = verdict ?? undefined;
    this.contexts.set(tx, ctx);
    tx.events.onTerminated = () => {
      this.contexts.delete(tx);
      this.complete(ctx);
    };
    const isDialogCreating = req.to?.params.get("tag") === undefined && (req.method === "INVITE" || req.method === "SUBSCRIBE" || req.method === "REFER");
    // A call: an initial INVITE this member took from a client and forwards (counted once, by the member that received it).
    if (req.method === "INVITE" && isDialogCreating && inFlow.peer === undefined) this.counters.calls++;
    for (const target of targets) {
      const copy = new SipRequest(req.method, target.uri, req.headers.map((h) => ({ ...h })), req.body);
      if (target.binding && target.binding.path.length > 0) for (const p of [...target.binding.path].reverse()) copy.prepend("route", p);
      const { dest, flow } = await this.destinationFor(copy, target.binding, target.hints, inFlow);
      if (confine && !this.withinDialog(confine, dest, flow)) {
        this.log.info({ source: `${inFlow.remote.address}:${inFlow.remote.port}`, method: req.method }, "in-dialog request to a next hop outside its dialog refused");
        ctx.finalSent = true;
        return this.reply(tx, req, 403, "Forbidden (next hop outside the dialog)");
      }
      const outTransport = flow?.transport ?? dest?.transport;
      const outInternal = flow ? flow.peer !== undefined : dest?.internal === true;
      const branch: Branch = { request: copy, tx: undefined, dest, flow, status: 0, cancelWanted: false, cancelled: false, timerC: undefined };
      ctx.branches.push(branch);
      if (!outTransport) {
        branch.status = 503;
        continue;
      }
      if (isDialogCreating) {
        const inbound: Leg = { transport: inFlow.transport, internal: inFlow.peer !== undefined };
        const refs: FlowRef[] = [];
        if (!inbound.internal) refs.push(flowRef(inFlow));
        if (!outInternal) {
          if (flow) refs.push(flowRef(flow));
          else if (dest?.transport === "udp") refs.push(udpRef(dest.address, dest.port));
          else if (dest) refs.push(addressRef(dest.transport, dest.address, dest.port));
        }
        // Prepended last = on top: the entry facing the next hop (RFC 5658 4.2).
        for (const rr of this.recordRoute(inbound, { transport: outTransport, internal: outInternal }, refs, copy.callId).reverse()) copy.prepend("record-route", rr);
      }
      const via = this.viaFor(outTransport, this.branchId(copy), outInternal);
      if (!via) {
        branch.status = 503;
        continue;
      }
      copy.prepend("via", via);
      // RFC 3325 5: an asserted identity leaves the trust domain only when the user did not ask for privacy.
      if (!outInternal && copy.has("p-asserted-identity") && /(^|[;,\s])id([;,\s]|$)/i.test(copy.getAll("privacy").join(","))) copy.remove("p-asserted-identity");
      this.counters.forwarded++;
      branch.tx = this.transactions.request(copy, this.sender(branch), {
        onResponse: (res) => this.inOrder(ctx, res, () => this.onBranchResponse(ctx, branch, res)),
        onTimeout: () => this.inOrder(ctx, undefined, () => this.onBranchFailure(ctx, branch, 408, "Request Timeout")),
        onTransportError: () => this.inOrder(ctx, undefined, () => this.onBranchFailure(ctx, branch, 503, "Service Unavailable (transport error)")),
      });
      if (req.method === "INVITE") branch.timerC = this.clock.setTimeout(() => this.cancelBranch(branch, true), this.opts.timerCMs ?? 180_000);
    }
    this.maybeFinish(ctx);
  }

  /** Run a branch event at once, or, when a plugin handles the responses, after it has seen `res` and the events queued before. */
  private inOrder(ctx: ResponseContext, res: SipResponse | undefined, step: () => void): void {
    const handler = ctx.handler;
    if (!handler) return step();
    ctx.queue = ctx.queue
      .then(() => (res && res.status > 100 ? handler.onResponse?.(res) : undefined))
      .catch((err: unknown) => this.log.error({ err: describeError(err) }, "proxy plugin failed on a response"))
      .then(() => {
        step();
        if (ctx.finalSent) this.complete(ctx);
      });
  }

  private complete(ctx: ResponseContext): void {
    if (ctx.completed || !ctx.handler) return;
    ctx.completed = true;
    ctx.handler.onComplete?.(ctx.server.lastStatus);
  }

  private sender(branch: Branch): { send(data: Buffer): boolean; readonly reliable: boolean } {
    const layer = this.opts.transport;
    return {
      get reliable() {
        return (branch.flow?.transport ?? branch.dest?.transport ?? "udp") !== "udp";
      },
      send(data: Buffer): boolean {
        if (branch.flow && !branch.flow.closed) return layer.sendOn(branch.flow, data);
        if (!branch.dest) return false;
        const flow = layer.sendTo(branch.dest, data);
        if (flow && flow.transport !== "udp") branch.flow = flow;
        return flow !== undefined;
      },
    };
  }

  private onBranchResponse(ctx: ResponseContext, branch: Branch, res: SipResponse): void {
    const s = res.status;
    if (s >= 200) {
      branch.status = s;
      if (branch.timerC) this.clock.clearTimeout(branch.timerC);
    } else if (branch.status === 0) {
      branch.status = s;
      if (branch.cancelWanted) this.cancelBranch(branch, false);
    }
    if (branch.timerC && s > 100 && s < 200 && ctx.request.method === "INVITE") {
      // Timer C restarts on every provisional (16.7 step 2).
      this.clock.clearTimeout(branch.timerC);
      branch.timerC = this.clock.setTimeout(() => this.cancelBranch(branch, true), this.opts.timerCMs ?? 180_000);
    }
    if (s === 100) return;
    const up = this.strip(res);
    if (!up) return;
    if (s < 200) {
      if (!ctx.finalSent) ctx.server.respond(up);
      return;
    }
    if (s < 300) {
      // 2xx are forwarded at once, every one of them (16.7 step 5); other branches are cancelled.
      ctx.finalSent = true;
      ctx.server.respond(up);
      for (const b of ctx.branches) if (b !== branch) this.cancelBranch(b, false);
      return;
    }
    if (s >= 600) for (const b of ctx.branches) if (b !== branch) this.cancelBranch(b, false);
    if (s === 503) {
      // 16.7 step 6: a 503 from downstream means that hop is overloaded, not us.
      up.status = 500;
      up.reason = "Server Internal Error (downstream unavailable)";
    }
    if (!ctx.best || rank(s) < rank(ctx.best.status)) ctx.best = up;
    else if ((s === 401 || s === 407) && (ctx.best.status === 401 || ctx.best.status === 407)) {
      for (const h of up.headers) if (h.key === "www-authenticate" || h.key === "proxy-authenticate") ctx.best.append(h.name, h.value);
    }
    this.maybeFinish(ctx);
  }

  private onBranchFailure(ctx: ResponseContext, branch: Branch, status: number, reason: string): void {
    branch.status = status;
    if (branch.timerC) this.clock.clearTimeout(branch.timerC);
    const res = createResponse(ctx.request, status, reason);
    if (!ctx.best || rank(status) < rank(ctx.best.status)) ctx.best = res;
    this.maybeFinish(ctx);
  }

  /** 16.7 step 6: when every branch has a final response, send the best one (if no 2xx went). */
  private maybeFinish(ctx: ResponseContext): void {
    if (ctx.finalSent) return;
    if (ctx.branches.some((b) => b.status < 200 && b.tx !== undefined)) return;
    ctx.finalSent = true;
    ctx.server.respond(ctx.best ?? createResponse(ctx.request, 503, "Service Unavailable (no reachable target)"));
  }

  /** Remove our Via from a response; undefined if it was not ours. */
  private strip(res: SipResponse): SipResponse | undefined {
    res.shift("via");
    return res.has("via") ? res : undefined;
  }

  // ---------------------------------------------------------------- CANCEL, ACK, strays

  private cancel(req: SipRequest, tx: ServerTransaction): void {
    const invite = this.transactions.findInviteFor(req);
    if (!invite) return this.reply(tx, req, 481, "Call/Transaction Does Not Exist");
    this.reply(tx, req, 200, "OK");
    const ctx = this.contexts.get(invite);
    if (!ctx) return;
    for (const b of ctx.branches) this.cancelBranch(b, false);
    if (!ctx.finalSent && ctx.branches.every((b) => b.tx === undefined)) {
      ctx.finalSent = true;
      invite.respond(createResponse(ctx.request, 487, "Request Terminated"));
    }
  }

  /** RFC 3261 9.1 / 16.10: CANCEL a pending INVITE branch (once it has a provisional response). */
  private cancelBranch(branch: Branch, timerC: boolean): void {
    if (branch.cancelled || branch.status >= 200 || !branch.tx || branch.request.method !== "INVITE") return;
    if (branch.status === 0) {
      branch.cancelWanted = true;
      if (!timerC) return;
    }
    branch.cancelled = true;
    const r = branch.request;
    const headers = r.headers.filter((h) => h.key === "call-id" || h.key === "from" || h.key === "to" || h.key === "route").map((h) => ({ ...h }));
    headers.unshift({ name: "Via", key: "via", value: r.vias[0] ?? "" });
    headers.push({ name: "CSeq", key: "cseq", value: `${r.cseq.seq} CANCEL` }, { name: "Max-Forwards", key: "max-forwards", value: "70" });
    const cancel = new SipRequest("CANCEL", r.uri, headers, Buffer.alloc(0));
    this.transactions.request(cancel, this.sender(branch), { onResponse: () => undefined, onTimeout: () => undefined, onTransportError: () => undefined });
    if (timerC && branch.status < 200) this.clock.setTimeout(() => branch.tx?.abandon(), 32_000);
  }

  /** ACK for a 2xx: forwarded statelessly along its route (16.11). */
  private forwardAck(req: SipRequest, inbound: Flow): void {
    const own = this.popOwnRoutes(req);
    const ruri = parseUri(req.uri);
    if (!ruri.ok || ruri.uri.kind !== "sip") return;
    if (req.getAll("route").length === 0 && this.isLocal(ruri.uri)) return; // an ACK for us: absorbed
    if (inbound.peer === undefined) {
      // An ACK gets no answer: one that does not bring our signed Record-Route back is dropped.
      if (own.forged !== undefined || !own.dialog) {
        this.log.info({ source: `${inbound.remote.address}:${inbound.remote.port}`, reason: own.forged ?? "no route token" }, "ACK outside a dialog of ours dropped");
        return;
      }
      stripIdentity(req);
    }
    const hints = own.hints;
    const mf = Number(req.get("max-forwards") ?? "70");
    if (mf <= 0) return;
    req.set("max-forwards", String(mf - 1));
    const binding = req.getAll("route").length === 0 ? this.registrar.store.byContact(formatUri(ruri.uri), this.clock.wallNow()) : undefined;
    const plugged = this.opts.plugin?.onAck ? Promise.resolve(this.opts.plugin.onAck({ request: req, source: source(inbound), targets: [{ uri: req.uri }] })).catch((err: unknown) => this.log.error({ err: describeError(err) }, "proxy plugin failed on an ACK")) : Promise.resolve();
    plugged
      .then(() => this.destinationFor(req, binding, hints, inbound))
      .then(({ dest, flow }) => {
        const t = flow?.transport ?? dest?.transport;
        if (!t) return;
        if (inbound.peer === undefined && !this.withinDialog(hints, dest, flow)) {
          this.log.info({ source: `${inbound.remote.address}:${inbound.remote.port}` }, "ACK to a next hop outside its dialog dropped");
          return;
        }
        const via = this.viaFor(t, `${MAGIC_COOKIE}-a${createHash("sha1").update(req.vias[0] ?? "").digest("base64url").slice(0, 16)}`, flow ? flow.peer !== undefined : dest?.internal === true);
        if (!via) return;
        req.prepend("via", via);
        const bytes = serializeMessage(req);
        if (flow) this.opts.transport.sendOn(flow, bytes);
        else if (dest) this.opts.transport.sendTo(dest, bytes);
      })
      .catch((err: unknown) => this.log.error({ err: describeError(err) }, "forwarding an ACK failed"));
  }

  /**
   * A response matching no client transaction is dropped (RFC 6026's
   * amendment of RFC 3261 16.7, which forwarded it statelessly): retransmitted 2xx are
   * caught by the client transaction's Accepted state (Timer M), so
   * whatever else arrives is stale or forged, and forwarding it would bounce
   * an attacker's datagram to whatever address its second Via names.
   */
  private dropStray(res: SipResponse, flow: Flow): void {
    this.counters.strays++;
    this.log.debug({ status: res.status, callId: res.callId, remote: `${flow.remote.address}:${flow.remote.port}` }, "stray response dropped");
  }

  /** RFC 3261 18.2.2: where a response to a request goes. */
  private sendResponseBytes(bytes: Buffer, flow: Flow, req: SipRequest): boolean {
    if (flow.reliable) {
      if (!flow.closed) return this.opts.transport.sendOn(flow, bytes);
    } else return this.opts.transport.sendOn(flow, bytes);
    const via = req.via;
    if (!via) return false;
    const address = via.params.get("received") ?? via.host.replace(/^\[|\]$/g, "");
    const port = via.params.get("rport") ? Number(via.params.get("rport")) : (via.port ?? 5060);
    return this.opts.transport.sendTo({ transport: flow.transport, address, port, internal: flow.peer !== undefined }, bytes) !== undefined;
  }
}

/**
 * How a registered client is reached on the node that holds its flow: over
 * its connection (clients seldom accept inbound connections), or at its UDP
 * source address when a NAT rewrote it or the client asked for outbound
 * (RFC 5626); otherwise (undefined) at its Contact.
 */
function bindingFlowRef(binding: Binding): FlowRef | undefined {
  if (binding.transport !== "udp") return `c:${binding.flowId}`;
  const contact = parseUri(binding.uri);
  const contactHost = contact.ok && contact.uri.kind === "sip" ? contact.uri.host.replace(/^\[|\]$/g, "") : undefined;
  const outbound = binding.regId !== undefined || /;ob\b/.test(binding.contact);
  return outbound || contactHost !== binding.source.address ? udpRef(binding.source.address, binding.source.port) : undefined;
}

function source(flow: Flow): { address: string; port: number; transport: TransportName; fromMember: boolean } {
  return { address: flow.remote.address, port: flow.remote.port, transport: flow.transport, fromMember: flow.peer !== undefined };
}

/** One side of a hop: its transport, and whether it is the internal (member-to-member) listener. */
interface Leg {
  transport: TransportName;
  internal: boolean;
}

/** Best-response ranking (16.7 step 6), lower wins: 6xx, then the lowest class; among 4xx, 401/407/415/420/484 first. */
function rank(status: number): number {
  if (status >= 600) return 0;
  if (status >= 400 && status < 500) {
    if (status === 401 || status === 407) return 4000;
    if (status === 415 || status === 420 || status === 484) return 4001;
    if (status === 408) return 4900;
    return 4100 + status;
  }
  return status * 10;
}

/**
 * RFC 3261 16.3 step 5: the Proxy-Require option tags we do not support
 * (at most 16), or undefined when the header is not a list of tokens.
 */
function unsupportedOptions(req: SipRequest): string[] | undefined {
  const values = req.getAll("proxy-require");
  if (values.length === 0) return [];
  const out: string[] = [];
  for (const v of values) {
    const tags = splitList(v);
    if (!tags) return undefined;
    for (const tag of tags) {
      if (!isToken(tag)) return undefined;
      if (!SUPPORTED_PROXY_OPTIONS.includes(tag.toLowerCase()) && out.length < 16) out.push(tag);
    }
  }
  return out;
}

/** Remove the identity headers a client may not assert (RFC 3325 trust domain: members only). */
function stripIdentity(req: SipRequest): void {
  for (const h of IDENTITY_HEADERS) if (req.has(h)) req.remove(h);
}
