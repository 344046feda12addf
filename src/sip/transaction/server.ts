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
  private readonly timers: TimerSet<"G" | "H" | "I" | "J" | "L">;
  private interval: number;
  events: ServerTransactionEvents = {};

  constructor(
    readonly key: string,
    readonly request: SipRequest,
    /** The flow the request arrived on; responses go back on it (or per 18.2.2). */
    readonly flow: Flow,
    private readonly sendResponse: (bytes: Buffer) => boolean,
    private readonly clock: Clock,
    private readonly cfg: TimerConfig,
    private readonly onTerminated: (t: ServerTransaction) => void,
  ) {
    this.isInvite = request.method === "INVITE";
    this.state = this.isInvite ? "proceeding" : "trying";
    this.interval = cfg.t1;
    this.timers = new TimerSet(clock);
  }

  /** The TU responds (RFC 3261 17.2.1, 17.2.2). */
  respond(res: SipResponse): void {
    if (this.state === "completed" || this.state === "confirmed" || this.state === "terminated") return;
    if (this.state === "accepted" && !(res.status >= 200 && res.status < 300)) return;
    const bytes = serializeMessage(res);
    const ok = this.sendResponse(bytes);
    this.last = bytes;
    this.lastStatus = res.status;
    sipResponseChannel.publish({ method: this.request.method, status: res.status });
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
    this.arm("J", timerJ(this.cfg, this.flow.reliable), () => this.terminate());
  }

  /** The innermost handler of the request pipeline (sip/pipeline ForwardHandler): a response going upstream is sent. */
  onResponse(res: SipResponse): void {
    this.respond(res);
  }

  /** A retransmission of the request, or the ACK of a non-2xx final response. */
  receive(req: SipRequest): void {
    if (req.method === "ACK") {
      if (this.isInvite && this.state === "completed") {
        this.cancel("G");
        this.cancel("H");
        this.state = "confirmed";
        this.arm("I", timerI(this.cfg, this.flow.reliable), () => this.terminate());
      }
      return;
    }
    // Retransmitted request: resend the last response, if any (17.2.1, 17.2.2).
    if (this.last && this.state !== "confirmed" && this.state !== "terminated") this.sendResponse(this.last);
  }

  private retransmitFinal(): void {
    if (this.state !== "completed" || !this.last) return;
    this.sendResponse(this.last);
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
    this.events.onTerminated?.();
    this.onTerminated(this);
  }
}
