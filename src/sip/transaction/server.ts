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
import type { TransactionEnv, TransitionTable } from "./state-machine.js";
import type { ServerState, ServerTransactionEvents } from "./types.js";
import { sipResponseChannel } from "../diagnostics.js";

export abstract class ServerTransaction<T extends string = string> extends TransactionBase<ServerState, T> {
  abstract readonly isInvite: boolean;
  protected last: Buffer | undefined;
  lastStatus = 0;
  protected interval: number;
  events: ServerTransactionEvents = {};

  constructor(
    key: string,
    request: SipRequest,
    initial: ServerState,
    table: TransitionTable<ServerState>,
    machine: string,
    /** The flow the request arrived on; responses go back on it (or per 18.2.2). */
    readonly flow: Flow,
    protected readonly sendResponse: (bytes: Buffer) => boolean,
    env: TransactionEnv,
  ) {
    super(key, request, initial, table, machine, env);
    this.interval = env.timers.t1;
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
    const bytes = serializeMessage(res);
    const ok = this.sendResponse(bytes);
    this.last = bytes;
    this.lastStatus = res.status;
    sipResponseChannel.publish({ method: this.request.method, status: res.status });
    if (!ok) {
      this.events.onFailure?.("transport");
      this.terminate();
    }
    return ok;
  }

  /** Resend the last response (a retransmitted request). */
  protected resend(): void {
    if (this.last) this.sendResponse(this.last);
  }

  protected override onTerminated(): void {
    this.events.onTerminated?.();
  }
}
