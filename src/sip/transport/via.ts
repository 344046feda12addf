/**
 * The transport side of the Via header: stamping `received` and `rport` on
 * requests as they arrive (RFC 3261 18.2.1, RFC 3581), the `alias` of an
 * authenticated TLS peer (RFC 5923), and where a response goes when the
 * connection its request came on is gone (RFC 3261 18.2.2).
 */
import { formatVia, type SipRequest } from "../message/index.js";
import type { SendDestination } from "./transport.js";
import type { Address, Flow } from "./types.js";

/**
 * RFC 3261 18.2.1 and RFC 3581: add `received` when the Via host differs
 * from the source address, and fill `rport`. Returns the Via sent-by as an
 * alias when an authenticated TLS peer asked for connection reuse (`;alias`).
 */
export function stampReceived(req: SipRequest, flow: Flow): Address | undefined {
  const via = req.via;
  if (!via) return undefined;
  let changed = false;
  const host = via.host.replace(/^\[|\]$/g, "");
  if (host !== flow.remote.address) {
    via.params.set("received", flow.remote.address);
    changed = true;
  }
  if (via.params.has("rport") && via.params.get("rport") === null) {
    via.params.set("rport", String(flow.remote.port));
    if (!changed) via.params.set("received", flow.remote.address);
    changed = true;
  }
  if (changed) req.replaceTopVia(via, formatVia(via));
  // RFC 5923 5: alias only on TLS whose peer was authenticated with a certificate (our members); from
  // anyone else it would let them capture what we later send to the address they name.
  return flow.transport === "tls" && flow.peer !== undefined && flow.peer !== "?" && via.params.has("alias") ? { address: host, port: via.port ?? 5061 } : undefined;
}

/**
 * RFC 3261 18.2.2: where a response goes when it cannot go back on the
 * request's flow (a closed connection): the Via's `received` address and
 * `rport` (or its sent-by port), over the same transport. Undefined when
 * the request had no Via.
 */
export function responseDestination(request: SipRequest, flow: Flow): SendDestination | undefined {
  const via = request.via;
  if (!via) return undefined;
  const address = via.params.get("received") ?? via.host.replace(/^\[|\]$/g, "");
  const port = via.params.get("rport") ? Number(via.params.get("rport")) : (via.port ?? 5060);
  return { transport: flow.transport, address, port, internal: flow.peer !== undefined };
}
