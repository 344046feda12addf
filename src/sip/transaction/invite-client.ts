/**
 * The INVITE client transaction (RFC 3261 17.1.1, with RFC 6026's Accepted
 * state): Calling (Timer A retransmits over UDP, Timer B gives up),
 * Proceeding, Completed (ACK for a non-2xx final, Timer D absorbs
 * retransmissions), Accepted (2xx passed up, Timer M), Terminated.
 */
import { SipRequest, serializeMessage, type SipResponse } from "../message/index.js";
import { ClientTransaction } from "./client.js";
import type { TransactionEnv, TransitionTable } from "./state-machine.js";
import { timerB, timerD, timerM } from "./timers.js";
import type { ClientState, ClientTransactionUser, Sender } from "./types.js";

export const INVITE_CLIENT_TRANSITIONS: TransitionTable<ClientState> = Object.freeze({
  calling: ["proceeding", "completed", "accepted", "terminated"],
  proceeding: ["completed", "accepted", "terminated"],
  completed: ["terminated"],
  accepted: ["terminated"],
  trying: [],
  terminated: [],
});

export class InviteClientTransaction extends ClientTransaction<"A" | "B" | "D" | "M"> {
  readonly isInvite = true;

  constructor(key: string, request: SipRequest, sender: Sender, tu: ClientTransactionUser, env: TransactionEnv) {
    super(key, request, "calling", INVITE_CLIENT_TRANSITIONS, "INVITE client", sender, tu, env);
  }

  protected armStart(): void {
    // 17.1.1.2: "If an unreliable transport is being used, the client transaction MUST start timer A with a value of T1."
    if (!this.sender.reliable) this.timers.arm("A", this.interval, () => this.retransmit());
    // "For any transport, the client transaction MUST start timer B with a value of 64*T1 seconds."
    this.timers.arm("B", timerB(this.env.timers), () => this.timeout());
  }

  receive(res: SipResponse): void {
    const s = res.status;
    switch (this.state) {
      case "calling":
      case "proceeding":
        this.timers.cancel("A");
        if (s < 200) {
          // 17.1.1.2: "If the client transaction receives a provisional response while in the Calling state, it transitions to the Proceeding state."
          if (this.transition("proceeding", "response", s)) this.tu.onResponse(res);
        } else if (s < 300) {
          // RFC 6026 7.2: a 2xx moves to Accepted; the TU sends the ACK for 2xx end to end.
          this.timers.cancel("B");
          if (!this.transition("accepted", "response", s)) return;
          this.sent();
          this.timers.arm("M", timerM(this.env.timers), () => this.terminate());
          this.tu.onResponse(res);
        } else {
          // 17.1.1.2: "When in either the Calling or Proceeding states, reception of a response with status code from 300-699 MUST cause the client transaction to transition to Completed."
          this.timers.cancel("B");
          if (!this.transition("completed", "response", s)) return;
          this.sent();
          this.sender.send(serializeMessage(this.ackFor(res)));
          this.timers.arm("D", timerD(this.env.timers, this.sender.reliable), () => this.terminate());
          this.tu.onResponse(res);
        }
        return;
      case "completed":
        // 17.1.1.2: "Any retransmissions of the final response that are received while in the Completed state MUST cause the ACK to be re-passed to the transport layer."
        if (s >= 300) this.sender.send(serializeMessage(this.ackFor(res)));
        else if (s >= 200) this.transition("accepted", "response after a non-2xx final", s);
        return;
      case "accepted":
        // RFC 6026 7.2: retransmitted 2xx (and 2xx of other forks) are passed to the TU.
        if (s >= 200 && s < 300) this.tu.onResponse(res);
        return;
      default:
        return;
    }
  }

  /** RFC 3261 17.1.1.3: the ACK for a non-2xx final response. */
  private ackFor(res: SipResponse): SipRequest {
    const req = this.request;
    const headers = req.headers.filter((h) => h.key === "call-id" || h.key === "from" || h.key === "route" || h.key === "max-forwards").map((h) => ({ ...h }));
    const via = req.headers.find((h) => h.key === "via");
    if (via) headers.unshift({ ...via, value: req.vias[0] ?? via.value });
    const to = res.headers.find((h) => h.key === "to");
    if (to) headers.push({ ...to });
    headers.push({ name: "CSeq", key: "cseq", value: `${req.cseq.seq} ACK` });
    return new SipRequest("ACK", req.uri, headers, Buffer.alloc(0));
  }

  /** Timer A: retransmit while Calling, doubling without bound (Timer B ends it). */
  private retransmit(): void {
    if (this.state !== "calling") return;
    this.sender.send(this.bytes);
    this.interval *= 2;
    this.timers.arm("A", this.interval, () => this.retransmit());
  }
}
