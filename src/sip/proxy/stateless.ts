/**
 * The stateless paths of the proxy: the ACK for a 2xx, sent on without a
 * transaction (RFC 3261 16.11) once the core routed it like any other
 * request (route processing, target determination, the forward phase of
 * the pipeline, so media relaying can rewrite the answer it may carry),
 * and responses that match no client transaction, dropped (RFC 6026's
 * amendment of 16.7).
 */
import { describeError, type Logger } from "../../base/index.js";
import { serializeMessage, type SipRequest, type SipResponse } from "../message/index.js";
import type { Flow, SipTransport } from "../transport/index.js";
import type { NextHop } from "./next-hop.js";
import { recordDrop, type DropReason } from "./drops.js";
import type { ProxyCounters } from "./options.js";
import type { OwnUris } from "./own-uris.js";
import type { RoutedRequest } from "./routed-request.js";

export interface StatelessOptions {
  transport: SipTransport;
  own: OwnUris;
  nextHop: NextHop;
  logger: Logger;
  counters: ProxyCounters;
}

export class Stateless {
  constructor(private readonly opts: StatelessOptions) {}

  /** The terminal of the forward phase for an ACK: choose the next hop, add our Via, send. */
  send(ctx: RoutedRequest): void {
    const { nextHop, own, transport, logger: log } = this.opts;
    const req = ctx.request;
    const inbound = ctx.flow;
    const target = ctx.routed[0];
    if (!target) return this.drop(req, inbound, "no-target");
    if (target.uri !== req.uri) req.uri = target.uri;
    if (target.binding && target.binding.path.length > 0) for (const p of [...target.binding.path].reverse()) req.prepend("route", p);
    nextHop
      .choose(req, target.binding, target.hints ?? ctx.hints, inbound)
      .then(({ dest, flow }) => {
        const t = flow?.transport ?? dest?.transport;
        if (!t) return this.drop(req, inbound, "no-next-hop");
        if (ctx.confine && !nextHop.withinDialog(ctx.confine, dest, flow)) return this.drop(req, inbound, "outside-dialog", "next hop outside the dialog");
        const via = own.via(t, own.ackBranch(req), flow ? flow.peer !== undefined : dest?.internal === true);
        if (!via) return this.drop(req, inbound, "no-next-hop", `no listener for ${t}`);
        req.prepend("via", via);
        const bytes = serializeMessage(req);
        const sent = flow ? transport.sendOn(flow, bytes) : dest ? transport.sendTo(dest, bytes) !== undefined : false;
        if (!sent) this.drop(req, inbound, "no-next-hop", "send failed");
      })
      .catch((err: unknown) => {
        log.error({ err: describeError(err) }, "forwarding an ACK failed");
        this.drop(req, inbound, "error");
      });
  }

  private drop(req: SipRequest, inbound: Flow, reason: DropReason, detail?: string): void {
    recordDrop(this.opts.counters, this.opts.logger, req, inbound, reason, detail);
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
