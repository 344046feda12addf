/**
 * The forwarder of the stateful proxy (RFC 3261 16.6 – 16.10): one client
 * transaction per target (a branch), each request copy with its Via,
 * Record-Route and Route; the response context that collects the
 * branches' responses (16.7), relays provisional and 2xx responses at
 * once and the best final one when every branch is done (16.7 step 6);
 * CANCEL of the pending branches (16.10) and Timer C (16.6 step 11, 16.8).
 *
 * Responses go upstream through the request's handler chain (the
 * pipeline), whose innermost handler is the server transaction.
 */
import type { Clock, Logger, TimerHandle } from "../../base/index.js";
import { createResponse, SipRequest, type SipResponse } from "../message/index.js";
import type { ForwardHandler } from "../pipeline/index.js";
import type { ClientTransaction, ServerTransaction, TransactionLayer } from "../transaction/index.js";
import type { Flow, SipTransport } from "../transport/index.js";
import { addressRef, flowRef, udpRef, type FlowRef } from "./flow-token.js";
import type { NextHop } from "./next-hop.js";
import { DEFAULT_TIMER_C_MS, type ProxyCounters } from "./options.js";
import type { Leg, OwnUris } from "./own-uris.js";
import type { RoutedRequest } from "./routed-request.js";
import type { Destination } from "./targets.js";

interface Branch {
  request: SipRequest;
  tx: ClientTransaction | undefined;
  dest: Destination | undefined;
  flow: Flow | undefined;
  status: number;
  cancelWanted: boolean;
  cancelled: boolean;
  timerC: TimerHandle | undefined;
  /** Stops listening for the close of the connection the branch's request rides on. */
  offClose?: (() => void) | undefined;
}

/** RFC 3261 16.7: the context that collects the responses of all branches of one request. */
class ResponseContext {
  readonly branches: Branch[] = [];
  best: SipResponse | undefined;
  finalSent = false;
  completed = false;
  constructor(
    readonly server: ServerTransaction,
    readonly request: SipRequest,
    /** Where responses go upstream: the pipeline's handler chain. */
    readonly handler: ForwardHandler,
  ) {}
}

export interface ForwarderOptions {
  transport: SipTransport;
  transactions: TransactionLayer;
  own: OwnUris;
  nextHop: NextHop;
  clock: Clock;
  logger: Logger;
  counters: ProxyCounters;
  /** @default DEFAULT_TIMER_C_MS */
  timerCMs?: number;
}

export class Forwarder {
  private readonly contexts = new Map<ServerTransaction, ResponseContext>();
  private readonly timerCMs: number;

  constructor(private readonly opts: ForwarderOptions) {
    this.timerCMs = opts.timerCMs ?? DEFAULT_TIMER_C_MS;
  }

  /** Forward a routed request to its targets (16.6), one branch each. */
  async forward(ctx: RoutedRequest, handler: ForwardHandler): Promise<void> {
    const { request: req, flow: inFlow, tx } = ctx;
    if (!tx) return;
    const { nextHop, own, clock } = this.opts;
    const rc = new ResponseContext(tx, req, handler);
    this.contexts.set(tx, rc);
    tx.events.onTerminated = () => {
      this.contexts.delete(tx);
      this.complete(rc, tx.lastStatus);
    };
    const isDialogCreating = req.to?.params.get("tag") === undefined && (req.method === "INVITE" || req.method === "SUBSCRIBE" || req.method === "REFER");
    // A call: an initial INVITE this member took from a client and forwards (counted once, by the member that received it).
    if (req.method === "INVITE" && isDialogCreating && inFlow.peer === undefined) this.opts.counters.calls++;
    for (const target of ctx.routed) {
      const copy = req.copyFor(target.uri);
      if (target.binding && target.binding.path.length > 0) for (const p of [...target.binding.path].reverse()) copy.prepend("route", p);
      const { dest, flow } = await nextHop.choose(copy, target.binding, target.hints, inFlow);
      if (ctx.confine && !nextHop.withinDialog(ctx.confine, dest, flow)) {
        this.opts.logger.info({ source: `${inFlow.remote.address}:${inFlow.remote.port}`, method: req.method }, "in-dialog request to a next hop outside its dialog refused");
        rc.finalSent = true;
        rc.completed = true;
        return ctx.reply(handler, 403, "Forbidden (next hop outside the dialog)");
      }
      const outTransport = flow?.transport ?? dest?.transport;
      const outInternal = flow ? flow.peer !== undefined : dest?.internal === true;
      const branch: Branch = { request: copy, tx: undefined, dest, flow, status: 0, cancelWanted: false, cancelled: false, timerC: undefined };
      rc.branches.push(branch);
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
        for (const rr of own.recordRoute(inbound, { transport: outTransport, internal: outInternal }, refs, copy.callId).reverse()) copy.prepend("record-route", rr);
      }
      const branchId = own.branchId(copy);
      const via = own.via(outTransport, branchId, outInternal);
      if (!via) {
        branch.status = 503;
        continue;
      }
      copy.prepend("via", via);
      // RFC 3325 5: an asserted identity leaves the trust domain only when the user did not ask for privacy.
      if (!outInternal && copy.has("p-asserted-identity") && /(^|[;,\s])id([;,\s]|$)/i.test(copy.getAll("privacy").join(","))) copy.remove("p-asserted-identity");
      this.opts.counters.forwarded++;
      branch.tx = this.opts.transactions.request(copy, this.sender(branch), {
        onResponse: (res) => this.onBranchResponse(rc, branch, res),
        onTimeout: () => this.onBranchFailure(rc, branch, 408, "Request Timeout"),
        onTransportError: () => this.onBranchFailure(rc, branch, 503, "Service Unavailable (transport error)"),
      }, branchId);
      if (req.method === "INVITE") branch.timerC = clock.setTimeout(() => this.cancelBranch(branch, true), this.timerCMs);
    }
    this.maybeFinish(rc);
  }

  /** RFC 3261 16.10: the INVITE server transaction `invite` was cancelled: cancel its pending branches. */
  cancel(invite: ServerTransaction): void {
    const rc = this.contexts.get(invite);
    if (!rc) return;
    for (const b of rc.branches) this.cancelBranch(b, false);
    if (!rc.finalSent && rc.branches.every((b) => b.tx === undefined)) this.sendFinal(rc, createResponse(rc.request, 487, "Request Terminated"));
  }

  /** The final response goes upstream; the request is done with. */
  private sendFinal(rc: ResponseContext, res: SipResponse): void {
    rc.finalSent = true;
    rc.handler.onResponse(res);
    this.complete(rc, res.status);
  }

  private complete(rc: ResponseContext, status: number): void {
    if (rc.completed) return;
    rc.completed = true;
    rc.handler.onComplete?.(status);
    this.release(rc);
  }

  /**
   * A context whose request is done with and whose every branch has its
   * final response has nothing left to do: it lets go of the server
   * transaction (which lingers 32 s for retransmissions) so that the
   * requests it holds are not kept that long.
   */
  private release(rc: ResponseContext): void {
    if (!rc.completed || rc.branches.some((b) => b.status < 200 && b.tx !== undefined)) return;
    if (this.contexts.get(rc.server) === rc) this.contexts.delete(rc.server);
    rc.server.events.onTerminated = undefined;
  }

  private sender(branch: Branch): { send(data: Buffer): boolean; readonly reliable: boolean } {
    const layer = this.opts.transport;
    return {
      get reliable() {
        return (branch.flow?.transport ?? branch.dest?.transport ?? "udp") !== "udp";
      },
      send(data: Buffer): boolean {
        let flow: Flow | undefined;
        let ok: boolean;
        if (branch.flow && !branch.flow.closed) {
          flow = branch.flow;
          ok = layer.sendOn(flow, data);
        } else {
          if (!branch.dest) return false;
          flow = layer.sendTo(branch.dest, data);
          if (flow && flow.transport !== "udp") branch.flow = flow;
          ok = flow !== undefined;
        }
        // A connection that closes, or never opens (a dead member), fails the branch at once
        // (RFC 3261 16.7 step 6 / 8.1.3.1: a 503 for this branch; the others, or the best answer, go on).
        if (ok && flow?.onClose && !branch.offClose) {
          branch.offClose = flow.onClose(() => {
            branch.offClose = undefined;
            if (branch.status < 200) branch.tx?.transportFailed();
          });
        }
        return ok;
      },
    };
  }

  private onBranchResponse(rc: ResponseContext, branch: Branch, res: SipResponse): void {
    const s = res.status;
    const { clock } = this.opts;
    if (s >= 200) {
      branch.status = s;
      if (branch.timerC) clock.clearTimeout(branch.timerC);
      settled(branch);
      this.release(rc);
    } else if (branch.status === 0) {
      branch.status = s;
      if (branch.cancelWanted) this.cancelBranch(branch, false);
    }
    if (branch.timerC && s > 100 && s < 200 && rc.request.method === "INVITE") {
      // Timer C restarts on every provisional (16.7 step 2).
      clock.clearTimeout(branch.timerC);
      branch.timerC = clock.setTimeout(() => this.cancelBranch(branch, true), this.timerCMs);
    }
    if (s === 100) return;
    const up = strip(res);
    if (!up) return;
    if (s < 200) {
      if (!rc.finalSent) rc.handler.onResponse(up);
      return;
    }
    if (s < 300) {
      // 2xx are forwarded at once, every one of them (16.7 step 5); other branches are cancelled.
      if (rc.finalSent) rc.handler.onResponse(up);
      else this.sendFinal(rc, up);
      for (const b of rc.branches) if (b !== branch) this.cancelBranch(b, false);
      return;
    }
    if (s >= 600) for (const b of rc.branches) if (b !== branch) this.cancelBranch(b, false);
    if (s === 503) {
      // 16.7 step 6: a 503 from downstream means that hop is overloaded, not us.
      up.status = 500;
      up.reason = "Server Internal Error (downstream unavailable)";
    }
    if (!rc.best || rank(s) < rank(rc.best.status)) rc.best = up;
    else if ((s === 401 || s === 407) && (rc.best.status === 401 || rc.best.status === 407)) {
      for (const h of up.headers) if (h.key === "www-authenticate" || h.key === "proxy-authenticate") rc.best.append(h.name, h.value);
    }
    this.maybeFinish(rc);
  }

  private onBranchFailure(rc: ResponseContext, branch: Branch, status: number, reason: string): void {
    branch.status = status;
    if (branch.timerC) this.opts.clock.clearTimeout(branch.timerC);
    settled(branch);
    this.release(rc);
    const res = createResponse(rc.request, status, reason);
    if (!rc.best || rank(status) < rank(rc.best.status)) rc.best = res;
    this.maybeFinish(rc);
  }

  /** 16.7 step 6: when every branch has a final response, send the best one (if no 2xx went). */
  private maybeFinish(rc: ResponseContext): void {
    if (rc.finalSent) return;
    if (rc.branches.some((b) => b.status < 200 && b.tx !== undefined)) return;
    this.sendFinal(rc, rc.best ?? createResponse(rc.request, 503, "Service Unavailable (no reachable target)"));
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
    this.opts.transactions.request(cancel, this.sender(branch), { onResponse: () => undefined, onTimeout: () => undefined, onTransportError: () => undefined });
    if (timerC && branch.status < 200)
      this.opts.clock.setTimeout(() => {
        branch.tx?.abandon();
        settled(branch);
      }, 32_000);
  }
}

/** The branch has its outcome: stop watching its connection (a member link lives for many calls). */
function settled(branch: Branch): void {
  branch.offClose?.();
  branch.offClose = undefined;
}

/** Remove our Via from a response; undefined if it was not ours. */
function strip(res: SipResponse): SipResponse | undefined {
  res.shift("via");
  return res.has("via") ? res : undefined;
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
