/**
 * Requests the proxy drops without an answer (an ACK gets none): each is
 * counted (`dropped` of the proxy counters), published on
 * `thor:sip:dropped` for metrics (`thor_sip_dropped_total{method,reason}`)
 * and logged with its reason, at debug for the expected cases, warn
 * otherwise.
 */
import type { Logger } from "../../base/index.js";
import type { SipRequest } from "../message/index.js";
import { sipDroppedChannel } from "../diagnostics.js";
import type { Flow } from "../transport/index.js";
import type { ProxyCounters } from "./options.js";

/**
 * Why the proxy dropped a request without answering it (an ACK gets no
 * answer): the metric label of `thor_sip_dropped_total` and the log field.
 */
export type DropReason =
  /** Addressed to this node (no user part, no Route): absorbed. */
  | "for-us"
  /** The target is gone: no binding (any more) for its AOR, GRUU instance or contact. */
  | "no-target"
  /** No next hop could be reached (its flow closed, nothing resolvable). */
  | "no-next-hop"
  /** From outside without our signed Record-Route, or to a next hop outside its dialog. */
  | "outside-dialog"
  /** A Route token of ours that does not verify. */
  | "forged-token"
  | "too-many-hops"
  | "loop"
  /** Malformed Request-URI or Proxy-Require, or another scheme than sip/sips. */
  | "bad-request"
  /** A failure of ours (logged as such too). */
  | "error";

/** Drops that happen in normal operation (a callee that just went away, an ACK that ends here): logged at debug, others at warn. */
export const EXPECTED_DROPS: ReadonlySet<DropReason> = new Set<DropReason>(["for-us", "no-target", "no-next-hop"]);

/** Count, publish and log one dropped request. */
export function recordDrop(counters: ProxyCounters, log: Logger, req: SipRequest, inbound: Flow, reason: DropReason, detail?: string): void {
  counters.dropped++;
  sipDroppedChannel.publish({ method: req.method, reason });
  const fields = { method: req.method, reason, ...(detail !== undefined ? { detail } : {}), source: `${inbound.transport}:${inbound.remote.address}:${inbound.remote.port}`, callId: req.callId };
  if (EXPECTED_DROPS.has(reason)) log.debug(fields, "request dropped");
  else log.warn(fields, "request dropped");
}
