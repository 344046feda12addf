/**
 * Guarded state transitions for the four transaction machines: each
 * machine has a closed set of states and a table of the moves RFC 3261 17
 * (with RFC 6026) allows; a move the table does not list is refused (the
 * transaction stays where it is, nothing is sent) and reported.
 */
import type { Clock } from "../../base/index.js";
import type { TimerConfig } from "./timers.js";

/** The moves a machine allows: state → the states it may go to. */
export type TransitionTable<S extends string> = Readonly<Record<S, readonly S[]>>;

/** A refused move, as reported to the transaction layer (which logs it). */
export interface IllegalTransition {
  machine: string;
  from: string;
  to: string;
  /** What asked for the move (an input of the machine). */
  input: string;
  method: string;
}

/** What every transaction gets from its layer. */
export interface TransactionEnv {
  clock: Clock;
  timers: TimerConfig;
  /** The transaction reached Terminated: the layer forgets it. */
  onTerminated(key: string): void;
  /** A move its table does not allow was refused. */
  onIllegal(t: IllegalTransition): void;
}

/** What a server transaction gets besides. */
export interface ServerTransactionEnv extends TransactionEnv {
  /**
   * A server transaction now only absorbs retransmissions for `ms`: the layer
   * keeps the key and `last` (resent to each retransmitted request; `null`:
   * absorbed silently) and forgets the transaction object (lingering.ts).
   */
  linger(key: string, last: Buffer | null, ms: number): void;
}

/** Whether `table` allows the move from `from` to `to`. */
export function allowed<S extends string>(table: TransitionTable<S>, from: S, to: S): boolean {
  return table[from].includes(to);
}
