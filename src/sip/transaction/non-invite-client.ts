/**
 * The non-INVITE client transaction (RFC 3261 17.1.2): Trying (Timer E
 * retransmits over UDP, Timer F gives up), Proceeding (retransmit every
 * T2), Completed (Timer K absorbs retransmitted responses), Terminated.
 */
import type { SipRequest, SipResponse } from "../message/index.js";
import { ClientTransaction } from "./client.js";
import type { TransactionEnv, TransitionTable } from "./state-machine.js";
import { timerF, timerK } from "./timers.js";
import type { ClientState, ClientTransactionUser, Sender } from "./types.js";

export const NON_INVITE_CLIENT_TRANSITIONS: TransitionTable<ClientState> = Object.freeze({
  trying: ["proceeding", "completed", "terminated"],
  proceeding: ["completed", "terminated"],
  completed: ["terminated"],
  calling: [],
  accepted: [],
  terminated: [],
});

export class NonInviteClientTransaction extends ClientTransaction<"E" | "F" | "K"> {
  readonly isInvite = false;

  constructor(key: string, request: SipRequest, sender: Sender, tu: ClientTransactionUser, env: TransactionEnv) {
    super(key, request, "trying", NON_INVITE_CLIENT_TRANSITIONS, "non-INVITE client", sender, tu, env);
  }

  protected armStart(): void {
    // 17.1.2.2: "If an unreliable transport is in use, the client transaction MUST set timer E to fire in T1 seconds."
    if (!this.sender.reliable) this.timers.arm("E", this.interval, () => this.retransmit());
    this.timers.arm("F", timerF(this.env.timers), () => this.timeout());
  }

  receive(res: SipResponse): void {
    const s = res.status;
    if (this.state !== "trying" && this.state !== "proceeding") return; // Completed absorbs retransmissions
    if (s < 200) {
      // 17.1.2.2: "If a provisional response is received while in the Trying state, the response MUST be passed to the TU, and then the client transaction SHOULD move to the Proceeding state."
      if (this.transition("proceeding", "response", s)) this.tu.onResponse(res);
      return;
    }
    // "If a final response (status codes 200-699) is received while in the Trying state, the response MUST be passed to the TU, and the client transaction MUST transition to the Completed state."
    this.timers.cancel("E");
    this.timers.cancel("F");
    if (!this.transition("completed", "response", s)) return;
    this.sent();
    this.tu.onResponse(res);
    this.timers.arm("K", timerK(this.env.timers, this.sender.reliable), () => this.terminate());
  }

  /** Timer E: doubles up to T2, and stays at T2 once Proceeding. */
  private retransmit(): void {
    if (this.state !== "trying" && this.state !== "proceeding") return;
    this.sender.send(this.bytes);
    this.interval = this.state === "proceeding" ? this.env.timers.t2 : Math.min(this.interval * 2, this.env.timers.t2);
    this.timers.arm("E", this.interval, () => this.retransmit());
  }
}
