/**
 * The SIP proxy of one node, assembled: the routing core (core.ts, RFC 3261
 * 16.3 – 16.5), the forwarder (forwarder.ts, 16.6 – 16.10), the stateless
 * paths (stateless.ts, 16.11 and strays), the registrar UAS
 * (sip/registrar), and the request pipeline (sip/pipeline) with the guard
 * and digest authentication as its first interceptors, then the features
 * given as options. It is the transaction user of its transaction layer;
 * what it receives comes from whoever composes it (SipServer) through
 * {@link SipProxy.receive}.
 */
import { describeError, KeyRing, systemClock, type Clock, type Logger } from "../../base/index.js";
import { canonicalHost } from "../message/index.js";
import { DigestAuthentication, DigestAuthenticator } from "../auth/index.js";
import { Guard, GuardInterceptor } from "../guard/index.js";
import { compose, type Interceptor, type Responder } from "../pipeline/index.js";
import { FlowWatch, LocalLocation, Registrar, RegistrarUas, type LocationService } from "../registrar/index.js";
import { TransactionLayer } from "../transaction/index.js";
import type { Inbound } from "../transport/index.js";
import { ProxyCore } from "./core.js";
import { Forwarder } from "./forwarder.js";
import { NextHop } from "./next-hop.js";
import type { ProxyCounters, ProxyOptions } from "./options.js";
import { OwnUris } from "./own-uris.js";
import { Originator } from "./originator.js";
import type { RoutedRequest } from "./routed-request.js";
import { Stateless } from "./stateless.js";

export class SipProxy {
  readonly transactions: TransactionLayer;
  readonly auth: DigestAuthenticator;
  readonly guard: Guard;
  readonly location: LocationService;
  /** Connections that carried registrations: their bindings go when they close (RFC 5626 flow failure). */
  readonly flows: FlowWatch;
  /** Requests this node originates as a UAC (NOTIFYs of a notifier on the pipeline). */
  readonly originator: Originator;
  /** The interceptors of the pipeline, outermost first (guard, authentication, then the features). */
  readonly interceptors: readonly Interceptor[];
  readonly counters: ProxyCounters = { requests: 0, registrations: 0, calls: 0, forwarded: 0, challenges: 0, authFailures: 0, rejected: 0, strays: 0, dropped: 0 };
  /** The location service this proxy built for itself (swept by it), when none was given. */
  private readonly ownLocation: LocalLocation | undefined;
  private sweeper: ReturnType<typeof setInterval> | undefined;

  constructor(opts: ProxyOptions) {
    const clock: Clock = opts.clock ?? systemClock;
    const log: Logger = opts.logger;
    const keys = opts.keys ?? KeyRing.ephemeral();
    const counters = this.counters;
    const responder: Responder = { userAgent: opts.userAgent, counters };
    this.ownLocation = opts.location ? undefined : new LocalLocation(new Registrar(opts.registrar), () => clock.wallNow());
    const location = (this.location = opts.location ?? this.ownLocation!);
    const own = new OwnUris(opts.transport, keys, clock, opts.domains);
    this.auth = new DigestAuthenticator(undefined, {
      realm: canonicalHost(opts.domains[0] ?? "sipthor"),
      keys,
      ...(opts.cluster ? { issuer: opts.cluster.self } : {}),
      algorithms: opts.algorithms ?? ["SHA-256", "MD5"],
      ...(opts.digestWithoutQop ? { noQopRealms: opts.digestWithoutQop } : {}),
    });
    this.guard = new Guard(opts.guard ?? {}, () => clock.now());
    const guarding = new GuardInterceptor(this.guard, log);
    const authentication = new DigestAuthentication({
      authenticator: this.auth,
      credentials: opts.credentials,
      domains: own.domains,
      namesServer: (uri) => own.namesListener(uri),
      logger: log,
      counters,
      onFailure: (req, reason, username) => guarding.authFailed(req.flow, req.request.method, reason, username),
      onSuccess: (req, username) => this.guard.authSuccess(req.flow, username),
    });
    this.interceptors = [guarding, authentication, ...(opts.interceptors ?? [])];
    let core: ProxyCore | undefined;
    this.transactions = new TransactionLayer(
      { onRequest: (r, f, t) => core!.onRequest(r, f, t), onStrayResponse: (r, f) => core!.onStrayResponse(r, f) },
      (bytes, tx) => opts.transport.respond(bytes, tx.flow, tx.request),
      { clock, logger: log, ...(opts.timers ? { timers: opts.timers } : {}) },
    );
    const nextHop = new NextHop(opts.transport, own, opts.cluster, opts.resolver);
    this.originator = new Originator({ transport: opts.transport, transactions: this.transactions, own, nextHop, logger: log });
    const forwarder = new Forwarder({ transport: opts.transport, transactions: this.transactions, own, nextHop, clock, logger: log, counters, ...(opts.timerCMs !== undefined ? { timerCMs: opts.timerCMs } : {}) });
    const forwardPhase = compose(this.interceptors, "forward", (req, handler) => {
      const routed = req as RoutedRequest;
      if (routed.tx)
        forwarder.forward(routed, handler).catch((err: unknown) => {
          log.error({ err: describeError(err), method: req.request.method }, "forwarding failed");
          req.reply(handler, 500, "Server Internal Error");
        });
      else stateless.send(routed);
    });
    const stateless = new Stateless({ transport: opts.transport, own, nextHop, logger: log, counters });
    const edge = opts.cluster ? { edge: opts.cluster.self } : {};
    this.flows = new FlowWatch({ location, logger: log, ...edge });
    const registrar = new RegistrarUas({ location, domains: own.domains, ...edge, clock, counters, flows: this.flows });
    core = new ProxyCore({
      own,
      location,
      credentials: opts.credentials,
      transactions: this.transactions,
      forwarder,
      stateless,
      registrar,
      cluster: opts.cluster,
      logger: log,
      counters,
      responder,
      requestPhase: (terminal) => compose(this.interceptors, "request", terminal),
      forwardPhase,
    });
  }

  /** A message from the transport. */
  receive(inbound: Inbound): void {
    this.transactions.receive(inbound);
  }

  start(): void {
    this.sweeper = setInterval(() => {
      this.ownLocation?.sweep();
      this.auth.sweep();
      this.guard.sweep();
    }, 1000);
    this.sweeper.unref();
  }

  stop(): void {
    if (this.sweeper) clearInterval(this.sweeper);
  }
}
