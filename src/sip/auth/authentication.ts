/**
 * Digest authentication on the request pipeline (request phase): who a
 * request comes from, proved before anything is looked up for it.
 *
 * - A REGISTER addressed to us is authenticated in the realm of its AOR's
 *   domain (401 with WWW-Authenticate, RFC 3261 22.1): alice@a's password
 *   does not register alice@b. A REGISTER whose AOR we cannot tell or do
 *   not serve passes on unauthenticated; the registrar answers it.
 * - A request from one of our domains (its From) is authenticated in that
 *   domain's realm (407 with Proxy-Authenticate, 22.3); the From must name
 *   the user who authenticated; the credentials are removed and the
 *   identity asserted towards the trust domain (P-Asserted-Identity,
 *   RFC 3325 9.1).
 * - Requests from other members, and in-dialog requests that brought back
 *   our signed Record-Route, were authenticated already: they pass.
 *
 * On success the request's `identity` is set; what to do with a request
 * nobody authenticated (relaying for foreign users) is the core's policy.
 */
import { describeError, type Logger } from "../../base/index.js";
import { aorOf, canonicalHost } from "../message/index.js";
import type { Forward, ForwardHandler, Interceptor, ProxyRequest } from "../pipeline/index.js";
import type { AsyncCredentialStore, CredentialStore, DigestAuthenticator, DigestVerdict } from "./digest.js";
import { CredentialsUnavailableError } from "./unavailable.js";

export interface AuthenticationOptions {
  authenticator: DigestAuthenticator;
  credentials: CredentialStore | AsyncCredentialStore;
  /** The domains served (canonical host names). */
  domains: ReadonlySet<string>;
  /** Whether a URI names one of our listeners (a digest `uri` may name us instead of the Request-URI). */
  namesServer(uri: string): boolean;
  logger: Logger;
  counters: { challenges: number; authFailures: number };
  /** A request failed authentication (not a missing or stale nonce, nor the store's own unavailability): the guard's penalty. */
  onFailure?(req: ProxyRequest, reason: string, username: string): void;
  /** `username` logged in: the guard forgives that user's failures from this source. */
  onSuccess?(req: ProxyRequest, username: string): void;
}

/** Retry-After (seconds) of the 503 answered when the account's holders could not be asked. */
const UNAVAILABLE_RETRY_AFTER_S = 5;

export class DigestAuthentication implements Interceptor {
  readonly name = "digest-authentication";

  constructor(private readonly opts: AuthenticationOptions) {}

  request(next: Forward): Forward {
    return (req, handler) => {
      const realm = this.realmOf(req);
      if (realm === undefined) return next(req, handler);
      const register = req.routing.local;
      this.verify(req, register ? "authorization" : "proxy-authorization", realm).then(
        (verdict) => {
          if (!verdict.ok) {
            if (verdict.reason === "blocked") return req.reply(handler, 403, "Forbidden (account blocked)");
            // The store could not say (holders unreachable): not the caller's failure, and no challenge to retry against.
            if (verdict.reason === "unavailable") return req.reply(handler, 503, "Service Unavailable (account holders unreachable)", [["Retry-After", String(UNAVAILABLE_RETRY_AFTER_S)]]);
            return this.challenge(req, handler, register ? 401 : 407, verdict.reason, realm, verdict.username ?? "");
          }
          this.opts.onSuccess?.(req, verdict.username);
          const identity = `${verdict.username}@${realm}`;
          if (!register) {
            const r = req.request;
            if (aorOf(r.from!.uri) !== identity) return req.reply(handler, 403, "Forbidden (From does not match credentials)");
            r.remove("proxy-authorization");
            // RFC 3325 9.1: towards the trust domain, assert who authenticated.
            r.set("p-asserted-identity", `<sip:${identity}>`);
          }
          req.identity = identity;
          next(req, handler);
        },
        (err: unknown) => {
          this.opts.logger.error({ err: describeError(err), method: req.request.method }, "authentication failed with an error");
          req.reply(handler, 500, "Server Internal Error");
        },
      );
    };
  }

  /** The realm a request must authenticate in, or undefined when this step does not authenticate it. */
  private realmOf(req: ProxyRequest): string | undefined {
    const r = req.request;
    if (req.routing.local) {
      if (r.method !== "REGISTER" || r.to?.uri.kind !== "sip") return undefined;
      const aor = aorOf(r.to.uri);
      const domain = aor?.slice(aor.lastIndexOf("@") + 1);
      return domain !== undefined && this.opts.domains.has(domain) ? domain : undefined;
    }
    if (req.trusted || req.routing.inDialog) return undefined;
    const from = r.from?.uri;
    const domain = from?.kind === "sip" ? canonicalHost(from.host) : undefined;
    return domain !== undefined && this.opts.domains.has(domain) ? domain : undefined;
  }

  /**
   * Digest verification in `realm` against a credential store that may
   * answer asynchronously (a remote node); "unavailable" when the store
   * could not say (it threw CredentialsUnavailableError).
   */
  private async verify(req: ProxyRequest, header: "authorization" | "proxy-authorization", realm: string): Promise<DigestVerdict | { ok: false; reason: "unavailable"; username: string }> {
    const { authenticator, credentials } = this.opts;
    const r = req.request;
    const d = authenticator.pick(r.getAll(header), realm);
    if (!("response" in d)) return d;
    let found;
    try {
      found = await credentials.lookup(d.username, d.realm);
    } catch (err) {
      if (err instanceof CredentialsUnavailableError) return { ok: false, reason: "unavailable", username: d.username };
      throw err;
    }
    return authenticator.check(r.method, { requestUri: req.requestUri, namesServer: this.opts.namesServer }, d, found);
  }

  private challenge(req: ProxyRequest, handler: ForwardHandler, status: 401 | 407, reason: string, realm: string, username: string): void {
    const { counters } = this.opts;
    if (reason !== "no-credentials" && reason !== "stale") {
      counters.authFailures++;
      this.opts.onFailure?.(req, reason, username);
    }
    counters.challenges++;
    const name = status === 401 ? "WWW-Authenticate" : "Proxy-Authenticate";
    req.reply(handler, status, status === 401 ? "Unauthorized" : "Proxy Authentication Required", this.opts.authenticator.challenges(reason === "stale", realm).map((c) => [name, c] as [string, string]));
  }
}
