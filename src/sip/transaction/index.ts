/**
 * sip/transaction — RFC 3261 section 17 (with RFC 6026): client and server
 * transactions for INVITE and non-INVITE, and the layer that matches
 * messages to them.
 */
export { TransactionLayer, newBranch, MAGIC_COOKIE, type TransactionCore } from "./layer.js";
export { ClientTransaction } from "./client.js";
export { ServerTransaction } from "./server.js";
export { DEFAULT_TIMERS, type TimerConfig } from "./timers.js";
export type { ClientTransactionUser, Sender, ClientState, ServerState } from "./types.js";
