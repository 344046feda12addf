import { channel } from "../../base/index.js";
import type { Address, TransportName } from "./types.js";

/** Handling one message (or stream chunk) took more than this. @default 2 ms */
export const SLOW_MESSAGE_US = 2000;

/**
 * A received datagram or stream chunk whose handling (parse and hand-up)
 * took more than {@link SLOW_MESSAGE_US}: for logs, and for the fuzzer,
 * which replays it. `bytes` is the received buffer itself (not a copy).
 */
export const slowMessageChannel = channel<{ transport: TransportName; remote: Address; bytes: Buffer; costUs: number }>("thor:sip:slow-message");
