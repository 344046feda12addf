/**
 * The contracts of the transaction layer (RFC 3261 17): what a transaction
 * needs from below (a way to send bytes on its flow) and what it tells the
 * transaction user above (responses, timeouts, transport errors).
 */
import type { SipResponse } from "../message/index.js";

export type ClientState = "calling" | "trying" | "proceeding" | "completed" | "accepted" | "terminated";
export type ServerState = "trying" | "proceeding" | "completed" | "confirmed" | "accepted" | "terminated";

/** The transaction user of a client transaction (the proxy core, a UA). */
export interface ClientTransactionUser {
  /** Every response the transaction passes up (RFC 3261 17.1.1.2, 17.1.2.2); 2xx retransmissions too (RFC 6026). */
  onResponse(response: SipResponse): void;
  /** Timer B or F fired: no final response (the TU answers 408). */
  onTimeout(): void;
  /** The request could not be sent (the TU answers 503). */
  onTransportError(): void;
}

/** Sends bytes for a transaction: on a fixed flow, or to a destination (returns false on failure). */
export interface Sender {
  send(data: Buffer): boolean;
  readonly reliable: boolean;
}

export interface ServerTransactionEvents {
  /** Timer H fired without an ACK, or sending the response failed. */
  onFailure?(reason: "timeout" | "transport"): void;
  onTerminated?(): void;
}
