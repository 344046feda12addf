/**
 * The non-INVITE server transaction (RFC 3261 17.2.2): Trying, Proceeding
 * (a provisional sent; retransmissions get it again), Completed (a final
 * sent; Timer J absorbs retransmissions), Terminated.
 */
import type { SipRequest, SipResponse } from "../message/index.js";
import type { Flow } from "../transport/index.js";
import { ServerTransaction } from "./server.js";
import type { ServerTransactionEnv, TransitionTable } from "./state-machine.js";
import { timerJ } from "./timers.js";
import type { ServerState } from "./types.js";

export const NON_INVITE_SERVER_TRANSITIONS: TransitionTable<ServerState> = Object.freeze({
  trying: ["proceeding", "completed", "terminated"],
  proceeding: ["completed", "terminated"],
  completed: ["terminated"],
  confirmed: [],
  accepted: [],
  terminated: [],
});

export class NonInviteServerTransaction extends ServerTransaction<"J"> {
  readonly isInvite = false;

  constructor(key: string, request: SipRequest, flow: Flow, sendResponse: (bytes: Buffer, request: SipRequest) => boolean, env: ServerTransactionEnv) {
    super(key, request, "trying", NON_INVITE_SERVER_TRANSITIONS, "non-INVITE server", flow, sendResponse, env);
  }

  respond(res: SipResponse): void {
    const s = res.status;
    // 17.2.2: provisional responses move Trying to Proceeding (and may repeat there); a final one moves to Completed.
    const next = s < 200 ? "proceeding" : "completed";
    if (!this.transition(next, "TU response", s)) return;
    if (!this.send(res) || s < 200) return;
    this.release();
    // "When the server transaction enters the "Completed" state, it MUST set Timer J to fire in 64*T1 seconds for unreliable transports, and zero seconds for reliable transports."
    const j = timerJ(this.env.timers, this.flow.reliable);
    // Digest challenges linger too: a retransmitted request must get the same 401 (same nonce and
    // To-tag) again, or a client without a full transaction layer (SIPp) sees a second challenge.
    if (j > 0) this.linger(j, true);
    else this.timers.arm("J", 0, () => this.terminate());
  }

  receive(req: SipRequest): void {
    if (req.method === "ACK") return; // an ACK matches INVITE transactions only (17.2.3)
    // 17.2.2: a retransmitted request gets the last response again (none in Trying); in
    // Completed the layer's lingering record answers (see linger).
    if (this.state === "proceeding") this.resend(req);
  }
}
