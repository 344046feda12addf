/**
 * What the four transaction machines share: their key and request, their
 * named RFC timers, the guarded move to a new state, and termination.
 */
import { TimerSet } from "./timer-set.js";
import { allowed, type TransactionEnv, type TransitionTable } from "./state-machine.js";
import type { SipRequest } from "../message/index.js";

export abstract class TransactionBase<S extends string, T extends string> {
  protected readonly timers: TimerSet<T>;
  /** The request's method (the request itself is kept by the subclasses only as long as they need it). */
  readonly method: string;

  constructor(
    readonly key: string,
    request: SipRequest,
    public state: S,
    private readonly table: TransitionTable<S>,
    private readonly machine: string,
    protected readonly env: TransactionEnv,
  ) {
    this.timers = new TimerSet(env.clock);
    this.method = request.method;
  }

  /**
   * Move to `next` when the machine's table allows it (staying in a state is
   * always allowed); otherwise refuse, report and stay. Returns whether the
   * machine is now in `next`. `input` (and `status`) say what asked for it.
   */
  protected transition(next: S, input: string, status?: number): boolean {
    if (this.state === next) return true;
    if (!allowed(this.table, this.state, next)) {
      // The input is described only here: a legal move builds no string.
      this.env.onIllegal({ machine: this.machine, from: this.state, to: next, input: status === undefined ? input : `${input} ${status}`, method: this.method });
      return false;
    }
    this.state = next;
    return true;
  }

  /** Terminated: timers cleared, the layer forgets the transaction. */
  protected terminate(): void {
    if (this.state === ("terminated" as S)) return;
    this.timers.clear();
    this.state = "terminated" as S;
    this.onTerminated();
    this.env.onTerminated(this.key);
  }

  /** Hook for the subclasses: told once, on termination. */
  protected onTerminated(): void {}
}
