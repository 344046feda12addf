/**
 * The stateless paths of the proxy: the ACK for a 2xx, forwarded along its
 * route without a transaction (RFC 3261 16.11; it passes the forward phase
 * of the pipeline, so media relaying can rewrite the answer it may carry),
 * and responses that match no client transaction, dropped (RFC 6026's
 * amendment of 16.7).
 */
import { describeError, type Logger } from "../../base/index.js";
import { formatUri, parseUri, serializeMessage, type SipRequest, type SipResponse } from "../message/index.js";
import { stripIdentity } from "../guard/index.js";
import { NO_RESPONSE, type Forward, type Responder } from "../pipeline/index.js";
import type { LocationService } from "../registrar/index.js";
import type { Flow, SipTransport } from "../transport/index.js";
import type { NextHop } from "./next-hop.js";
import type { ProxyCounters } from "./options.js";
import type { OwnUris } from "./own-uris.js";
import { RoutedRequest } from "./routed-request.js";

const ACK_FACTS = Object.freeze({ inDialog: true, hasRoute: false, local: false, toLocalDomain: false });

export interface StatelessOptions {
  transport: SipTransport;
  own: OwnUris;
  nextHop: NextHop;
  location: LocationService;
  logger: Logger;
  counters: ProxyCounters;
  responder: Responder;
  /** The forward phase of the pipeline, whose terminal for an ACK is {@link Stateless.send}. */
  forward: Forward;
}

export class Stateless {
  constructor(private readonly opts: StatelessOptions) {}

  /** ACK for a 2xx: forwarded statelessly along its route (16.11). */
  forwardAck(req: SipRequest, inbound: Flow): void {
    const { own, logger: log } = this.opts;
    const ownRoutes = own.popOwnRoutes(req);
    const ruri = parseUri(req.uri);
    if (!ruri.ok || ruri.uri.kind !== "sip") return;
    if (req.getAll("route").length === 0 && own.isLocal(ruri.uri)) return; // an ACK for us: absorbed
    if (inbound.peer === undefined) {
      // An ACK gets no answer: one that does not bring our signed Record-Route back is dropped.
      if (ownRoutes.forged !== undefined || !ownRoutes.dialog) {
        log.info({ source: `${inbound.remote.address}:${inbound.remote.port}`, reason: ownRoutes.forged ?? "no route token" }, "ACK outside a dialog of ours dropped");
        return;
      }
      stripIdentity(req);
    }
    const mf = Number(req.get("max-forwards") ?? "70");
    if (mf <= 0) return;
    req.set("max-forwards", String(mf - 1));
    const binding = req.getAll("route").length === 0 ? this.opts.location.byContact(formatUri(ruri.uri)) : undefined;
    const ctx = new RoutedRequest(req, inbound, req.uri, { ...ACK_FACTS, hasRoute: req.getAll("route").length > 0 }, this.opts.responder);
    ctx.hints = ownRoutes.hints;
    ctx.routed = [{ uri: req.uri, binding }];
    this.opts.forward(ctx, NO_RESPONSE);
  }

  /** The terminal of the forward phase for an ACK: choose the next hop, add our Via, send. */
  send(ctx: RoutedRequest): void {
    const { nextHop, own, transport, logger: log } = this.opts;
    const req = ctx.request;
    const inbound = ctx.flow;
    nextHop
      .choose(req, ctx.routed[0]?.binding, ctx.hints, inbound)
      .then(({ dest, flow }) => {
        const t = flow?.transport ?? dest?.transport;
        if (!t) return;
        if (inbound.peer === undefined && !nextHop.withinDialog(ctx.hints, dest, flow)) {
          log.info({ source: `${inbound.remote.address}:${inbound.remote.port}` }, "ACK to a next hop outside its dialog dropped");
          return;
        }
        const via = own.via(t, own.ackBranch(req), flow ? flow.peer !== undefined : dest?.internal === true);
        if (!via) return;
        req.prepend("via", via);
        const bytes = serializeMessage(req);
        if (flow) transport.sendOn(flow, bytes);
        else if (dest) transport.sendTo(dest, bytes);
      })
      .catch((err: unknown) => log.error({ err: describeError(err) }, "forwarding an ACK failed"));
  }

  /**
   * A response matching no client transaction is dropped (RFC 6026's
   * amendment of RFC 3261 16.7, which forwarded it statelessly): retransmitted 2xx are
   * caught by the client transaction's Accepted state (Timer M), so
   * whatever else arrives is stale or forged, and forwarding it would bounce
   * an attacker's datagram to whatever address its second Via names.
   */
  dropStray(res: SipResponse, flow: Flow): void {
    this.opts.counters.strays++;
    this.opts.logger.debug({ status: res.status, callId: res.callId, remote: `${flow.remote.address}:${flow.remote.port}` }, "stray response dropped");
  }
}
