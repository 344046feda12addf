/**
 * Server transactions (RFC 3261 17.2): what the INVITE (invite-server.ts)
 * and non-INVITE (non-invite-server.ts) machines share: the flow the
 * request came on, the last response (resent on request retransmissions),
 * and the events the TU listens to. A server transaction is also the
 * innermost handler of the proxy's request pipeline (`onResponse`).
 */
import { serializeMessage, type SipRequest, type SipResponse } from "../message/index.js";
import type { Flow } from "../transport/index.js";
import { TransactionBase } from "./base.js";
import type { ServerTransactionEnv, TransitionTable } from "./state-machine.js";
import type { ServerState, ServerTransactionEvents } from "./types.js";
import { sipResponseChannel } from "../diagnostics.js";

export abstract class ServerTransaction<T extends string = string> extends TransactionBase<ServerState, T> {
  abstract readonly isInvite: boolean;
  /**
   * The request until it is answered for good: a completed non-INVITE or a
   * confirmed INVITE transaction only absorbs retransmissions (answered to
   * the retransmitted request's Via), so it does not keep the parsed message
   * alive for Timer J's 32 s (at 1,000 REGISTERs/s that was 64k parsed
   * messages in the heap, and garbage collection copying them).
   */
  private held: SipRequest | undefined;
  protected last: Buffer | undefined;
  lastStatus = 0;
  protected interval: number;
  events: ServerTransactionEvents = {};
  declare protected readonly env: ServerTransactionEnv;

  constructor(
    key: string,
    request: SipRequest,
    initial: ServerState,
    table: TransitionTable<ServerState>,
    machine: string,
    /** The flow the request arrived on; responses go back on it (or per 18.2.2). */
    readonly flow: Flow,
    protected readonly sendResponse: (bytes: Buffer, request: SipRequest) => boolean,
    env: ServerTransactionEnv,
  ) {
    super(key, request, initial, table, machine, env);
    this.held = request;
    this.interval = env.timers.t1;
  }

  /** Let go of the request: from now on only retransmissions are answered (to their own Via). */
  protected release(): void {
    this.held = undefined;
  }

  /**
   * From now on the transaction only absorbs retransmissions for `ms`
   * (answering them with the last response when `answer`): the layer keeps a
   * small record in its place (lingering.ts) and the TU is told it is over.
   * The state stays what it is (Completed, Confirmed), so a late TU response
   * is still refused as a move out of it.
   */
  protected linger(ms: number, answer: boolean): void {
    this.timers.clear();
    this.held = undefined;
    const events = this.events;
    this.events = {};
    this.env.linger(this.key, answer ? (this.last ?? null) : null, ms);
    events.onTerminated?.();
  }

  /** The TU responds (RFC 3261 17.2.1, 17.2.2). */
  abstract respond(res: SipResponse): void;

  /** A retransmission of the request, or (INVITE) the ACK of a non-2xx final response. */
  abstract receive(req: SipRequest): void;

  /** The innermost handler of the request pipeline (sip/pipeline ForwardHandler): a response going upstream is sent. */
  onResponse(res: SipResponse): void {
    this.respond(res);
  }

  /** Send a response the machine has accepted; false (and the transaction ends) when the transport failed. */
  protected send(res: SipResponse): boolean {
    const request = this.held;
    if (!request) return false;
    const bytes = serializeMessage(res);
    const ok = this.sendResponse(bytes, request);
    this.last = bytes;
    this.lastStatus = res.status;
    sipResponseChannel.publish({ method: this.method, status: res.status });
    if (!ok) {
      this.events.onFailure?.("transport");
      this.terminate();
    }
    return ok;
  }

  /** Resend the last response: to `req`'s Via (a retransmitted request), else to the held request's (Timer G). */
  protected resend(req?: SipRequest): void {
    const to = req ?? this.held;
    if (this.last && to) this.sendResponse(this.last, to);
  }

  protected override onTerminated(): void {
    this.held = undefined;
    this.events.onTerminated?.();
  }
}
