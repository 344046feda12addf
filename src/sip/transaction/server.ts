/**
 * Server transactions (RFC 3261 17.2): INVITE (17.2.1, with RFC 6026's
 * Accepted state) and non-INVITE (17.2.2). They absorb request
 * retransmissions by resending the last response, retransmit INVITE final
 * responses until the ACK (Timer G/H), and linger to catch stragglers
 * (Timers I, J, L).
 */
import type { Clock } from "../../base/index.js";
import { TimerSet } from "./timer-set.js";
import { serializeMessage, type SipRequest, type SipResponse } from "../message/index.js";
import type { Flow } from "../transport/index.js";
import type { ServerState, ServerTransactionEvents } from "./types.js";
import { timerH, timerI, timerJ, timerL, type TimerConfig } from "./timers.js";
import { sipResponseChannel } from "../diagnostics.js";

export class ServerTransaction {
  state: ServerState;
  readonly isInvite: boolean;
  private last: Buffer | undefined;
  lastStatus = 0;
  readonly method: string;
  /**
   * The request until it is answered for good: a completed non-INVITE or a
   * confirmed INVITE transaction only absorbs retransmissions (answered to
   * the retransmitted request's Via), so it does not keep the parsed message
   * alive for Timer J's 32 s (at 1,000 REGISTERs/s that was 64k parsed
   * messages in the heap, and garbage collection copying them).
   */
  private request: SipRequest | undefined;
  private readonly timers: TimerSet<"G" | "H" | "I" | "J" | "L">;
  private interval: number;
  events: ServerTransactionEvents = {};

  constructor(
    readonly key: string,
    request: SipRequest,
    /** The flow the request arrived on; responses go back on it (or per 18.2.2). */
    readonly flow: Flow,
    /** Sends response bytes for `request` (the original or a retransmission: the same Via). */
    private readonly sendResponse: (bytes: Buffer, request: SipRequest) => boolean,
    private readonly clock: Clock,
    private readonly cfg: TimerConfig,
    private readonly onTerminated: (t: ServerTransaction) => void,
  ) {
    this.request = request;
    this.method = request.method;
    this.isInvite = request.method === "INVITE";
    this.state = this.isInvite ? "proceeding" : "trying";
    this.interval = cfg.t1;
    this.timers = new TimerSet(clock);
  }

  /** The TU responds (RFC 3261 17.2.1, 17.2.2). */
  respond(res: SipResponse): void {
    if (this.state === "completed" || this.state === "confirmed" || this.state === "terminated") return;
    if (this.state === "accepted" && !(res.status >= 200 && res.status < 300)) return;
    const request = this.request;
    if (!request) return;
    const bytes = serializeMessage(res);
    const ok = this.sendResponse(bytes, request);
    this.last = bytes;
    this.lastStatus = res.status;
    sipResponseChannel.publish({ method: this.method, status: res.status });
    if (!ok) {
      this.events.onFailure?.("transport");
      this.terminate();
      return;
    }
    const s = res.status;
    if (s < 200) {
      if (this.state === "trying") this.state = "proceeding";
      return;
    }
    if (this.isInvite) {
      if (s < 300) {
        if (this.state !== "accepted") {
          this.state = "accepted";
          this.arm("L", timerL(this.cfg), () => this.terminate());
        }
        return;
      }
      this.state = "completed";
      if (!this.flow.reliable) this.arm("G", this.interval, () => this.retransmitFinal());
      this.arm("H", timerH(this.cfg), () => {
        this.events.onFailure?.("timeout");
        this.terminate();
      });
      return;
    }
    this.state = "completed";
    this.request = undefined;
    this.arm("J", timerJ(this.cfg, this.flow.reliable), () => this.terminate());
  }

  /** A retransmission of the request, or the ACK of a non-2xx final response. */
  receive(req: SipRequest): void {
    if (req.method === "ACK") {
      if (this.isInvite && this.state === "completed") {
        this.cancel("G");
        this.cancel("H");
        this.state = "confirmed";
        this.request = undefined;
        this.arm("I", timerI(this.cfg, this.flow.reliable), () => this.terminate());
      }
      return;
    }
    // Retransmitted request: resend the last response, if any (17.2.1, 17.2.2).
    if (this.last && this.state !== "confirmed" && this.state !== "terminated") this.sendResponse(this.last, req);
  }

  private retransmitFinal(): void {
    if (this.state !== "completed" || !this.last || !this.request) return;
    this.sendResponse(this.last, this.request);
    this.interval = Math.min(this.interval * 2, this.cfg.t2);
    this.arm("G", this.interval, () => this.retransmitFinal());
  }

  private arm(name: Parameters<TimerSet<"G" | "H" | "I" | "J" | "L">["arm"]>[0], ms: number, fn: () => void): void {
    this.timers.arm(name, ms, fn);
  }

  private cancel(name: Parameters<TimerSet<"G" | "H" | "I" | "J" | "L">["cancel"]>[0]): void {
    this.timers.cancel(name);
  }

  private terminate(): void {
    if (this.state === "terminated") return;
    this.timers.clear();
    this.state = "terminated";
    this.request = undefined;
    this.events.onTerminated?.();
    this.onTerminated(this);
  }
}
