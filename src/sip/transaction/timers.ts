/**
 * RFC 3261 timer values (section 17 and Table 4). T1, T2 and T4 are
 * configurable (tests shorten them); every other timer derives from them.
 */
export interface TimerConfig {
  /** RTT estimate. @default 500 ms */
  t1: number;
  /** Maximum retransmit interval for non-INVITE requests and INVITE responses. @default 4000 ms */
  t2: number;
  /** Maximum time a message remains in the network. @default 5000 ms */
  t4: number;
}

export const DEFAULT_TIMERS: TimerConfig = { t1: 500, t2: 4000, t4: 5000 };

export const timerB = (c: TimerConfig) => 64 * c.t1; // INVITE transaction timeout
export const timerF = (c: TimerConfig) => 64 * c.t1; // non-INVITE transaction timeout
export const timerH = (c: TimerConfig) => 64 * c.t1; // wait time for ACK receipt
export const timerJ = (c: TimerConfig, reliable: boolean) => (reliable ? 0 : 64 * c.t1); // wait for non-INVITE request retransmits
export const timerD = (c: TimerConfig, reliable: boolean) => (reliable ? 0 : Math.max(32_000, 64 * c.t1)); // wait for response retransmits
export const timerI = (c: TimerConfig, reliable: boolean) => (reliable ? 0 : c.t4); // wait for ACK retransmits
export const timerK = (c: TimerConfig, reliable: boolean) => (reliable ? 0 : c.t4); // wait for response retransmits
/** RFC 6026: how long an accepted INVITE transaction absorbs retransmissions. */
export const timerL = (c: TimerConfig) => 64 * c.t1;
export const timerM = (c: TimerConfig) => 64 * c.t1;
