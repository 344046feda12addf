/**
 * The INVITE server transaction (RFC 3261 17.2.1, with RFC 6026's Accepted
 * state): Proceeding (request retransmissions get the last provisional),
 * Completed (a non-2xx final, retransmitted by Timer G over UDP until the
 * ACK, Timer H gives up), Confirmed (Timer I absorbs ACK retransmissions),
 * Accepted (2xx sent, Timer L absorbs retransmissions), Terminated.
 */
import type { SipRequest, SipResponse } from "../message/index.js";
import type { Flow } from "../transport/index.js";
import { ServerTransaction } from "./server.js";
import type { ServerTransactionEnv, TransitionTable } from "./state-machine.js";
import { timerH, timerI, timerL } from "./timers.js";
import type { ServerState } from "./types.js";

export const INVITE_SERVER_TRANSITIONS: TransitionTable<ServerState> = Object.freeze({
  proceeding: ["completed", "accepted", "terminated"],
  completed: ["confirmed", "terminated"],
  confirmed: ["terminated"],
  accepted: ["terminated"],
  trying: [],
  terminated: [],
});

export class InviteServerTransaction extends ServerTransaction<"G" | "H" | "I" | "L"> {
  readonly isInvite = true;

  constructor(key: string, request: SipRequest, flow: Flow, sendResponse: (bytes: Buffer, request: SipRequest) => boolean, env: ServerTransactionEnv) {
    super(key, request, "proceeding", INVITE_SERVER_TRANSITIONS, "INVITE server", flow, sendResponse, env);
  }

  respond(res: SipResponse): void {
    const s = res.status;
    // 17.2.1: provisional responses only while Proceeding; RFC 6026 8.5: 2xx while Proceeding or Accepted.
    const next = s < 200 ? "proceeding" : s < 300 ? "accepted" : "completed";
    if (s < 300 && this.state === next) {
      this.send(res);
      return;
    }
    if (!this.transition(next, "TU response", s)) return;
    if (!this.send(res)) return;
    if (s < 200) return;
    if (s < 300) {
      // RFC 6026 7.1: "the server transaction MUST transition to the "Accepted" state" and start Timer L.
      this.timers.arm("L", timerL(this.env.timers), () => this.terminate());
      return;
    }
    // 17.2.1: "For unreliable transports, the server transaction MUST start timer G"; "For any transport, [...] MUST start timer H".
    if (!this.flow.reliable) this.timers.arm("G", this.interval, () => this.retransmitFinal());
    this.timers.arm("H", timerH(this.env.timers), () => {
      this.events.onFailure?.("timeout");
      this.terminate();
    });
  }

  receive(req: SipRequest): void {
    if (req.method === "ACK") {
      // 17.2.1: "If an ACK is received while the server transaction is in the Completed state, the server transaction MUST transition to the Confirmed state."
      if (this.state === "completed" && this.transition("confirmed", "ACK")) {
        this.release();
        this.timers.cancel("G");
        this.timers.cancel("H");
        // Confirmed absorbs ACK (and INVITE) retransmissions until Timer I: the layer's lingering record does that.
        const i = timerI(this.env.timers, this.flow.reliable);
        if (i > 0) this.linger(i, false);
        else this.timers.arm("I", 0, () => this.terminate());
      }
      return;
    }
    // 17.2.1: a request retransmission gets the most recent provisional (Proceeding) or final (Completed, Accepted) response again.
    if (this.state !== "confirmed" && this.state !== "terminated") this.resend(req);
  }

  /** Timer G: resend the final response, doubling up to T2, until the ACK. */
  private retransmitFinal(): void {
    if (this.state !== "completed" || !this.last) return;
    this.resend();
    this.interval = Math.min(this.interval * 2, this.env.timers.t2);
    this.timers.arm("G", this.interval, () => this.retransmitFinal());
  }
}
