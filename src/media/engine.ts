/**
 * The contract every media engine implements: the built-in relay
 * (`MediaRelay`) and the rtpengine ng client (`RtpengineEngine`). The
 * `media_relay` role serves the control methods on top of it, whichever
 * the node is configured with.
 */
import type { MediaDescription, RelayStatistics } from "./relay.js";
import type { RelayedStream, SessionSummary } from "./session.js";

export interface MediaEngine {
  readonly kind: "builtin" | "rtpengine";
  start(): void | Promise<void>;
  stop(): void | Promise<void>;
  /** An offer: creates the call's session (refused while draining) or updates it. */
  offer(d: MediaDescription): Promise<RelayedStream[]>;
  /** The answer, or a later description of an existing session (re-INVITE, UPDATE). */
  update(d: MediaDescription): Promise<RelayedStream[]>;
  delete(callId: string, reason?: string): SessionSummary | undefined | Promise<SessionSummary | undefined>;
  query(callId: string): SessionSummary | undefined | Promise<SessionSummary | undefined>;
  setDraining(draining: boolean): void;
  /** Call-IDs of the sessions held, at most `max`. */
  callIds(max?: number): string[];
  statistics(): RelayStatistics;
}
