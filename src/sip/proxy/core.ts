/**
 * The routing core of the proxy (RFC 3261 16.3 – 16.5), the transaction
 * user above the transaction layer:
 *
 * - 16.3 request validation: Max-Forwards, loop detection, Proxy-Require
 *   (420 with Unsupported), the Request-URI scheme;
 * - 16.4 route information: a strict router's Request-URI, our own Route
 *   entries removed, their signed tokens checked (a forged one is refused);
 * - then the request phase of the pipeline (guard, authentication, ...),
 *   whose terminal answers requests addressed to us (registrar UAS,
 *   OPTIONS) or does 16.5: the relay policy and target determination from
 *   the location service, then the forward phase of the pipeline (media
 *   relaying, ...), whose terminal is the forwarder.
 *
 * CANCEL goes to the forwarder (16.10), the ACK for a 2xx and stray
 * responses to the stateless paths.
 */
import { describeError, type Logger } from "../../base/index.js";
import { aorOf, canonicalHost, createResponse, formatUri, isToken, parseNameAddr, parseUri, splitList, type SipRequest, type SipResponse } from "../message/index.js";
import { CredentialsUnavailableError, type AsyncCredentialStore, type CredentialStore } from "../auth/index.js";
import type { Forward, ForwardHandler, Responder } from "../pipeline/index.js";
import { LOCATION_RETRY_AFTER_S, LocationUnavailableError, type LocationService, type RegistrarUas } from "../registrar/index.js";
import type { ServerTransaction, TransactionCore, TransactionLayer } from "../transaction/index.js";
import type { Flow } from "../transport/index.js";
import type { Forwarder } from "./forwarder.js";
import { isFlowToken } from "./flow-token.js";
import { UNAVAILABLE_RETRY_AFTER_S, SUPPORTED_PROXY_OPTIONS, type ClusterHooks, type ProxyCounters } from "./options.js";
import type { OwnUris } from "./own-uris.js";
import { RoutedRequest } from "./routed-request.js";
import type { Stateless } from "./stateless.js";

export interface ProxyCoreOptions {
  own: OwnUris;
  location: LocationService;
  credentials: CredentialStore | AsyncCredentialStore;
  transactions: TransactionLayer;
  forwarder: Forwarder;
  stateless: Stateless;
  registrar: RegistrarUas;
  cluster: ClusterHooks | undefined;
  logger: Logger;
  counters: ProxyCounters;
  responder: Responder;
  /** The request phase of the pipeline; its terminal is {@link ProxyCore.route}. */
  requestPhase(terminal: Forward): Forward;
  /** The forward phase of the pipeline; its terminal is the forwarder (or the stateless path for an ACK). */
  forwardPhase: Forward;
}

const ALLOW = "INVITE, ACK, CANCEL, BYE, OPTIONS, REGISTER, MESSAGE, SUBSCRIBE, NOTIFY, REFER, INFO, UPDATE, PRACK";

export class ProxyCore implements TransactionCore {
  private readonly log: Logger;
  private readonly requestPhase: Forward;

  constructor(private readonly opts: ProxyCoreOptions) {
    this.log = opts.logger;
    this.requestPhase = opts.requestPhase((req, handler) => this.route(req as RoutedRequest, handler));
  }

  onRequest(req: SipRequest, flow: Flow, tx: ServerTransaction | undefined): void {
    this.opts.counters.requests++;
    try {
      if (!tx) return this.opts.stateless.forwardAck(req, flow);
      if (req.method === "INVITE") tx.respond(createResponse(req, 100));
      if (req.method === "CANCEL") return this.cancel(req, tx);
      this.receive(req, flow, tx);
    } catch (err) {
      this.log.error({ err: describeError(err), method: req.method }, "request handling failed");
      if (tx) this.reply(tx, req, 500, "Server Internal Error");
    }
  }

  onStrayResponse(res: SipResponse, flow: Flow): void {
    this.opts.stateless.dropStray(res, flow);
  }

  private reply(tx: ServerTransaction, req: SipRequest, status: number, reason?: string, extra: Array<[string, string]> = []): void {
    if (status >= 400) this.opts.counters.rejected++;
    const ua = this.opts.responder.userAgent;
    tx.respond(createResponse(req, status, reason, ua ? [["Server", ua], ...extra] : extra));
  }

  /** RFC 3261 9.2 and 16.10: answer the CANCEL, then cancel the INVITE's branches. */
  private cancel(req: SipRequest, tx: ServerTransaction): void {
    const invite = this.opts.transactions.findInviteFor(req);
    if (!invite) return this.reply(tx, req, 481, "Call/Transaction Does Not Exist");
    this.reply(tx, req, 200, "OK");
    if (invite !== "answered") this.opts.forwarder.cancel(invite);
  }

  /** RFC 3261 16.3 and 16.4, then the request phase of the pipeline. */
  private receive(req: SipRequest, flow: Flow, tx: ServerTransaction): void {
    const { own } = this.opts;
    // 16.3 step 3: Max-Forwards.
    const mfText = req.get("max-forwards");
    const mf = mfText === undefined ? 70 : Number(mfText);
    // 16.3 step 4: loop detection.
    if (own.looped(req)) return this.reply(tx, req, 482, "Loop Detected");
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
    let strict: ReturnType<OwnUris["verifyToken"]> | undefined;
    if (own.isLocal(ruri) && isFlowToken(ruri.user) && routes.length > 0) {
      const na = parseNameAddr(routes[routes.length - 1]!);
      if (na.ok && na.value.uri.kind === "sip") {
        strict = own.verifyToken(ruri.user!, ruri, req.callId);
        req.uri = formatUri(na.value.uri);
        req.set("route", routes.slice(0, -1).join(", "));
        if (routes.length === 1) req.remove("route");
        ruri = na.value.uri;
      }
    }
    // 16.4: pop our own Route (two of them where we record-routed twice), keeping their flow tokens.
    const ownRoutes = own.popOwnRoutes(req);
    if (strict?.ok === false) ownRoutes.forged ??= strict.reason;
    else if (strict?.ok) {
      ownRoutes.hints.push(...strict.refs);
      ownRoutes.dialog = true;
    }
    if (ownRoutes.forged !== undefined) {
      this.log.info({ source: `${flow.remote.address}:${flow.remote.port}`, method: req.method, reason: ownRoutes.forged }, "request with an invalid route token refused");
      return this.reply(tx, req, 403, "Forbidden (invalid route token)");
    }
    const hasRoute = req.getAll("route").length > 0;
    const trusted = flow.peer !== undefined;
    // An in-dialog request proves it belongs to a dialog we record-routed by bringing our
    // signed Record-Route back; any other (a To tag alone proves nothing) is treated as an
    // initial request: authenticated when it comes from our users, else refused unless it
    // goes to one of them.
    const inDialog = req.to?.params.get("tag") !== undefined && ownRoutes.dialog;
    // A draining or starting member takes nothing new from clients: 503 with Retry-After sends them to the
    // next server of their RFC 3263 list (RFC 3261 21.5.4) and is no failed login; in-dialog requests and
    // other members' requests go on.
    if (!trusted && !inDialog && req.method !== "ACK") {
      const why = this.opts.cluster?.unavailable?.();
      if (why !== undefined) return this.reply(tx, req, 503, `Service Unavailable (${why})`, [["Retry-After", String(UNAVAILABLE_RETRY_AFTER_S)]]);
    }
    const local = !hasRoute && own.isLocal(ruri) && (ruri.user === undefined || req.method === "REGISTER");
    if (!local) {
      if (mf <= 0) return req.method === "OPTIONS" && own.isLocal(ruri) ? this.reply(tx, req, 200) : this.reply(tx, req, 483, "Too Many Hops");
      req.set("max-forwards", String(mf - 1));
    }
    const ctx = new RoutedRequest(req, flow, requestUri, { inDialog, hasRoute, local, toLocalDomain: own.domains.has(canonicalHost(ruri.host)) }, this.opts.responder);
    ctx.tx = tx;
    ctx.ruri = ruri;
    ctx.hints = ownRoutes.hints;
    this.requestPhase(ctx, tx);
  }

  /** The terminal of the request phase: answer a request addressed to us, or find its targets (16.5). */
  private route(ctx: RoutedRequest, handler: ForwardHandler): void {
    this.target(ctx, handler).catch((err: unknown) => {
      if (err instanceof LocationUnavailableError) {
        // Every holder of the callee's AOR unreachable (two nodes lost at once): temporarily unavailable, not our fault.
        this.log.warn({ err: err.message, method: ctx.request.method }, "location holders unreachable");
        return ctx.reply(handler, 480, "Temporarily Unavailable (location holders unreachable)", [["Retry-After", String(LOCATION_RETRY_AFTER_S)]]);
      }
      this.log.error({ err: describeError(err), method: ctx.request.method }, "request handling failed");
      ctx.reply(handler, 500, "Server Internal Error");
    });
  }

  private async target(ctx: RoutedRequest, handler: ForwardHandler): Promise<void> {
    const req = ctx.request;
    const { local, inDialog, hasRoute, toLocalDomain } = ctx.routing;
    if (local) {
      if (req.method === "REGISTER") return this.opts.registrar.register(ctx, handler);
      if (req.method === "OPTIONS") return ctx.reply(handler, 200, "OK", [["Allow", ALLOW], ["Accept", "application/sdp"]]);
      return ctx.reply(handler, 404, "Not Found");
    }
    // Relaying for foreign users is refused: to foreign domains, and along a pre-loaded Route to
    // another host (only our own users, authenticated, may pre-load routes).
    if (!ctx.trusted && !inDialog && ctx.identity === undefined && (!toLocalDomain || hasRoute)) return ctx.reply(handler, 403, "Relaying Denied");
    const ruri = ctx.ruri;
    if (!ruri) return ctx.reply(handler, 500, "Server Internal Error");
    if (!hasRoute && toLocalDomain && ruri.user !== undefined) {
      const aor = aorOf(ruri)!;
      const bindings = await this.opts.location.lookup(aor);
      if (bindings.length === 0) {
        const at = aor.lastIndexOf("@");
        // When the account's holders cannot say, the user may well exist: 480, not 404.
        const known = await Promise.resolve(this.opts.credentials.lookup(aor.slice(0, at), aor.slice(at + 1))).then(
          (c) => c !== undefined,
          (err: unknown) => (err instanceof CredentialsUnavailableError ? true : Promise.reject(err)),
        );
        return ctx.reply(handler, known ? 480 : 404, known ? "Temporarily Unavailable" : "Not Found");
      }
      ctx.routed = bindings.map((b) => ({ uri: b.uri, binding: b }));
    } else {
      // In-dialog or routed request: one target, the Request-URI (the route set decides the next hop).
      const binding = hasRoute ? undefined : this.opts.location.byContact(formatUri(ruri));
      ctx.routed = [{ uri: req.uri, binding, hints: hasRoute ? [] : ctx.hints }];
      if (inDialog && !ctx.trusted) ctx.confine = ctx.hints;
    }
    this.opts.forwardPhase(ctx, handler);
  }
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
