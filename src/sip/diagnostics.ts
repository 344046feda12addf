import { channel } from "../base/index.js";

/**
 * Diagnostics channels of the SIP engine (`thor:sip:*`), for metrics. No
 * AOR or Call-ID is ever published: labels stay low-cardinality.
 */

/** A request opened a server transaction (or an ACK for a 2xx reached the core). */
export const sipRequestChannel = channel<{ method: string }>("thor:sip:request");
/** A server transaction sent a response. */
export const sipResponseChannel = channel<{ method: string; status: number }>("thor:sip:response");

/** The proxy dropped a request without answering it (an ACK it could not deliver), with the reason (a fixed set). */
export const sipDroppedChannel = channel<{ method: string; reason: string }>("thor:sip:dropped");
