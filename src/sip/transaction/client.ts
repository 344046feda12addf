/**
 * Client transactions (RFC 3261 17.1): INVITE (17.1.1, with RFC 6026's
 * Accepted state) and non-INVITE (17.1.2). Timers are named after the RFC;
 * retransmissions only on unreliable transports.
 */
import type { Clock } from "../../base/index.js";
import { TimerSet } from "./timer-set.js";
import { serializeMessage, SipRequest, type SipResponse } from "../message/index.js";
import type { ClientState, ClientTransactionUser, Sender } from "./types.js";
import { timerB, timerD, timerF, timerK, timerM, type TimerConfig } from "./timers.js";

export class ClientTransaction {
  state: ClientState;
  private readonly bytes: Buffer;
  private readonly timers: TimerSet<"A" | "B" | "D" | "E" | "F" | "K" | "M">;
  private interval: number;
  readonly isInvite: boolean;

  constructor(
    readonly key: string,
    readonly request: SipRequest,
    private readonly sender: Sender,
    private readonly tu: ClientTransactionUser,
    private readonly clock: Clock,
    private readonly cfg: TimerConfig,
    private readonly onTerminated: (t: ClientTransaction) => void,
  ) {
    this.isInvite = request.method === "INVITE";
    this.state = this.isInvite ? "calling" : "trying";
    this.bytes = serializeMessage(request);
    this.interval = cfg.t1;
    this.timers = new TimerSet(clock);
  }

  start(): void {
    if (!this.sender.send(this.bytes)) {
      this.terminate();
      this.tu.onTransportError();
      return;
    }
    if (this.isInvite) {
      if (!this.sender.reliable) this.arm("A", this.interval, () => this.retransmit("A"));
      this.arm("B", timerB(this.cfg), () => this.timeout());
    } else {
      if (!this.sender.reliable) this.arm("E", this.interval, () => this.retransmit("E"));
      this.arm("F", timerF(this.cfg), () => this.timeout());
    }
  }

  /** A response matched this transaction. */
  receive(res: SipResponse): void {
    const s = res.status;
    if (this.isInvite) {
      switch (this.state) {
        case "calling":
        case "proceeding":
          this.cancel("A");
          if (s < 200) {
            this.state = "proceeding";
            this.tu.onResponse(res);
          } else if (s < 300) {
            // RFC 6026 7.2: Accepted; the TU sends the ACK for 2xx end to end.
            this.cancel("B");
            this.state = "accepted";
            this.arm("M", timerM(this.cfg), () => this.terminate());
            this.tu.onResponse(res);
          } else {
            this.cancel("B");
            this.state = "completed";
            this.sender.send(serializeMessage(this.ackFor(res)));
            this.arm("D", timerD(this.cfg, this.sender.reliable), () => this.terminate());
            this.tu.onResponse(res);
          }
          return;
        case "completed":
          if (s >= 300) this.sender.send(serializeMessage(this.ackFor(res))); // 17.1.1.2: retransmitted final → ACK again
          return;
        case "accepted":
          if (s >= 200 && s < 300) this.tu.onResponse(res);
          return;
        default:
          return;
      }
    }
    switch (this.state) {
      case "trying":
      case "proceeding":
        if (s < 200) {
          this.state = "proceeding";
          this.tu.onResponse(res);
          return;
        }
        this.cancel("E");
        this.cancel("F");
        this.state = "completed";
        this.tu.onResponse(res);
        this.arm("K", timerK(this.cfg, this.sender.reliable), () => this.terminate());
        return;
      default:
        return;
    }
  }

  /** The TU gave up (e.g. the proxy's Timer C): stop without telling it. */
  abandon(): void {
    this.terminate();
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

  private retransmit(timer: "A" | "E"): void {
    if (timer === "A" && this.state !== "calling") return;
    if (timer === "E" && this.state !== "trying" && this.state !== "proceeding") return;
    this.sender.send(this.bytes);
    // A doubles without bound (B ends it); E doubles up to T2, and stays at T2 once proceeding.
    this.interval = timer === "A" ? this.interval * 2 : this.state === "proceeding" ? this.cfg.t2 : Math.min(this.interval * 2, this.cfg.t2);
    this.arm(timer, this.interval, () => this.retransmit(timer));
  }

  private timeout(): void {
    if (this.state === "completed" || this.state === "terminated" || this.state === "accepted") return;
    this.terminate();
    this.tu.onTimeout();
  }

  private arm(name: Parameters<TimerSet<"A" | "B" | "D" | "E" | "F" | "K" | "M">["arm"]>[0], ms: number, fn: () => void): void {
    this.timers.arm(name, ms, fn);
  }

  private cancel(name: Parameters<TimerSet<"A" | "B" | "D" | "E" | "F" | "K" | "M">["cancel"]>[0]): void {
    this.timers.cancel(name);
  }

  private terminate(): void {
    if (this.state === "terminated") return;
    this.timers.clear();
    this.state = "terminated";
    this.onTerminated(this);
  }
}
