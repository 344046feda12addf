/**
 * The guard on the request pipeline: what the trust boundary of public SIP
 * does to each request once it is parsed (the per-message rate limit runs
 * earlier, in the transport, before parsing: {@link Guard.admit}).
 *
 * - Identity headers (P-Asserted-Identity, P-Preferred-Identity,
 *   Remote-Party-ID) from anyone but a member are removed: only the trust
 *   domain (the cluster) asserts identities (RFC 3325).
 * - Authentication failures reported by the authentication step cost the
 *   source: a ban over connection-oriented transports, a throttle over UDP
 *   (see guard.ts).
 */
import type { Logger } from "../../base/index.js";
import type { SipRequest } from "../message/index.js";
import type { Flow } from "../transport/index.js";
import type { Forward, Interceptor } from "../pipeline/index.js";
import type { Guard } from "./guard.js";

/** Identity headers only members may assert (RFC 3325 trust domain: the cluster). */
export const IDENTITY_HEADERS = ["p-asserted-identity", "p-preferred-identity", "remote-party-id"] as const;

/** Remove the identity headers a client may not assert. */
export function stripIdentity(req: SipRequest): void {
  for (const h of IDENTITY_HEADERS) if (req.has(h)) req.remove(h);
}

export class GuardInterceptor implements Interceptor {
  readonly name = "guard";

  constructor(
    readonly guard: Guard,
    private readonly log: Logger,
  ) {}

  request(next: Forward): Forward {
    return (req, handler) => {
      if (!req.trusted) stripIdentity(req.request);
      next(req, handler);
    };
  }

  /** The authentication step refused a request from `flow` for `username` (not for a missing or stale nonce). */
  authFailed(flow: Flow, method: string, reason: string, username: string): void {
    const penalty = this.guard.authFailure(flow, username);
    if (penalty === "ban") this.log.warn({ source: flow.remote.address, transport: flow.transport }, "too many authentication failures, source banned");
    else if (penalty === "throttle") this.log.warn({ source: flow.remote.address, transport: flow.transport }, "too many authentication failures over UDP, source throttled (not banned: UDP sources can be spoofed)");
    this.log.info({ source: flow.remote.address, method, reason }, "authentication failed");
  }
}
