/**
 * sip/transaction — RFC 3261 section 17 (with RFC 6026): one module per
 * state machine (invite-client.ts, non-invite-client.ts, invite-server.ts,
 * non-invite-server.ts) with guarded transitions (state-machine.ts), and
 * the layer that matches messages to them (layer.ts).
 */
export { TransactionLayer, newBranch, MAGIC_COOKIE, type TransactionCore } from "./layer.js";
export { ClientTransaction } from "./client.js";
export { ServerTransaction } from "./server.js";
export { InviteClientTransaction, INVITE_CLIENT_TRANSITIONS } from "./invite-client.js";
export { NonInviteClientTransaction, NON_INVITE_CLIENT_TRANSITIONS } from "./non-invite-client.js";
export { InviteServerTransaction, INVITE_SERVER_TRANSITIONS } from "./invite-server.js";
export { NonInviteServerTransaction, NON_INVITE_SERVER_TRANSITIONS } from "./non-invite-server.js";
export { allowed, type TransitionTable, type IllegalTransition, type TransactionEnv } from "./state-machine.js";
export { DEFAULT_TIMERS, type TimerConfig } from "./timers.js";
export type { ClientTransactionUser, Sender, ClientState, ServerState } from "./types.js";
