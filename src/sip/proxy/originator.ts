/**
 * Requests this node originates as a UAC (RFC 3261 8.1), for features on
 * the pipeline that act as user agents, e.g. the NOTIFYs of a presence
 * notifier (RFC 6665). The request is complete but for its Via; it leaves
 * the way a proxied request to a registered client would (next-hop.ts):
 * on the client's flow, or through the member that holds that flow
 * (reverse outbound), or along its Route set / Request-URI; through a
 * client transaction of the proxy's transaction layer.
 */
import type { Logger } from "../../base/index.js";
import type { SipRequest, SipResponse } from "../message/index.js";
import type { Binding } from "../registrar/index.js";
import type { TransactionLayer } from "../transaction/index.js";
import type { Flow, SipTransport, TransportName } from "../transport/index.js";
import type { NextHop } from "./next-hop.js";
import type { OwnUris } from "./own-uris.js";

/** What the originator of a request hears of it. */
export interface UacCallbacks {
  /** Each response (provisional and final). */
  onResponse(res: SipResponse): void;
  /** No final response (Timer F), or the request could not be sent at all. */
  onFailure(reason: "timeout" | "transport"): void;
}

/** Where a request we originate goes: the flow (and edge member) of a client, as a registration records it. */
export type UacTarget = Pick<Binding, "uri" | "contact" | "flowId" | "transport" | "source" | "regId" | "edge" | "expires" | "path">;

export class Originator {
  constructor(
    private readonly opts: {
      transport: SipTransport;
      transactions: TransactionLayer;
      own: OwnUris;
      nextHop: NextHop;
      logger: Logger;
    },
  ) {}

  /** Our address for a Contact of a request received over `transport` (the public listener). */
  contactAddress(transport: TransportName): { host: string; port: number } | undefined {
    return this.opts.transport.local(transport);
  }

  /** Send `req` (no Via yet) towards `target`; answers false when no next hop could be found. */
  async send(req: SipRequest, target: UacTarget | undefined, tu: UacCallbacks): Promise<boolean> {
    const { own, nextHop, transport } = this.opts;
    const binding: Binding | undefined = target ? { ...target, q: 1, callId: "", cseq: 0, instance: undefined, updatedAt: 0 } : undefined;
    const { dest, flow } = await nextHop.choose(req, binding);
    const outTransport = flow?.transport ?? dest?.transport;
    if (!outTransport) return false;
    const via = own.via(outTransport, own.branchId(req), flow ? flow.peer !== undefined : dest?.internal === true);
    if (!via) return false;
    // Our Via on top (RFC 3261 8.1.1.7): the first header line when the request has none yet.
    if (req.has("via")) req.prepend("via", via);
    else req.headers.unshift({ name: "Via", key: "via", value: via });
    let used: Flow | undefined = flow;
    this.opts.transactions.request(
      req,
      {
        reliable: outTransport !== "udp",
        send(data: Buffer): boolean {
          if (used && !used.closed) return transport.sendOn(used, data);
          if (!dest) return false;
          used = transport.sendTo(dest, data);
          return used !== undefined;
        },
      },
      { onResponse: (r) => tu.onResponse(r), onTimeout: () => tu.onFailure("timeout"), onTransportError: () => tu.onFailure("transport") },
    );
    return true;
  }
}
