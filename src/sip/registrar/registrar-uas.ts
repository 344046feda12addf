/**
 * The registrar as a UAS (RFC 3261 10.3): the terminal step for a REGISTER
 * addressed to this node, once the request phase (guard, authentication)
 * has run. It checks the AOR (steps 3 and 4), that the credentials were the
 * AOR's own (step 5 ran in the authentication step: `identity`), applies
 * the bindings through the node's one location service (steps 6 and 7) and
 * answers 200 with the current bindings (step 8).
 */
import type { Clock } from "../../base/index.js";
import { aorOf } from "../message/index.js";
import type { ForwardHandler, ProxyRequest } from "../pipeline/index.js";
import type { FlowWatch } from "./flow-watch.js";
import { LOCATION_RETRY_AFTER_S, LocationUnavailableError, type LocationService } from "./location.js";
import { Registrar, registerData } from "./registrar.js";

export interface RegistrarUasOptions {
  location: LocationService;
  /** The domains served (canonical host names). */
  domains: ReadonlySet<string>;
  /** This member's id, written into bindings as the edge that holds their flow (distributed service). */
  edge?: string;
  clock: Clock;
  counters: { registrations: number };
  /** Told of every registration over a connection, to remove its bindings when it closes (RFC 5626). */
  flows?: FlowWatch;
}

export class RegistrarUas {
  constructor(private readonly opts: RegistrarUasOptions) {}

  async register(req: ProxyRequest, handler: ForwardHandler): Promise<void> {
    const r = req.request;
    // RFC 3261 10.3 step 3: the To header field names the AOR, a SIP or SIPS URI.
    if (r.to?.uri.kind !== "sip") return req.reply(handler, 400, "Bad Request (To is not a SIP or SIPS URI)");
    const aor = aorOf(r.to.uri);
    if (!aor) return req.reply(handler, 400, "Bad Request (To names no user)");
    if (!this.opts.domains.has(aor.slice(aor.lastIndexOf("@") + 1))) return req.reply(handler, 403, "Domain Not Served");
    // Step 5 (authorization) ran in the request phase: only the AOR's own credentials register it.
    if (req.identity === undefined) return req.reply(handler, 403, "Forbidden (not authenticated)");
    if (req.identity !== aor) return req.reply(handler, 403, "Forbidden (credentials are for another user)");
    let outcome;
    try {
      outcome = await this.opts.location.register(aor, registerData(r, req.flow, this.opts.edge));
    } catch (err) {
      // Every holder of the AOR unreachable: the phone retries (here or at the next server of its RFC 3263 list).
      if (err instanceof LocationUnavailableError) return req.reply(handler, 503, "Service Unavailable (location holders unreachable)", [["Retry-After", String(LOCATION_RETRY_AFTER_S)]]);
      throw err;
    }
    if (outcome.status !== 200) {
      return req.reply(handler, outcome.status, outcome.reason, outcome.minExpires ? [["Min-Expires", String(outcome.minExpires)]] : []);
    }
    this.opts.counters.registrations++;
    if (r.getAll("path").length === 0 && r.getAll("contact").length > 0) this.opts.flows?.registered(aor, req.flow);
    const now = this.opts.clock.wallNow();
    const extra: Array<[string, string]> = Registrar.contactHeaders(outcome, now).map((c) => ["Contact", c] as [string, string]);
    extra.push(["Date", new Date(now).toUTCString()]);
    req.reply(handler, 200, "OK", extra);
  }
}
