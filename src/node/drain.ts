/**
 * Administrative drain of a node over the control link. `node.drain`
 * (`{ draining: boolean }`) is for operator certificates only (OU=operator):
 * the node marks itself draining in its announcement, so the next snapshot
 * takes it out of every ring and out of DNS; its roles stop taking new work
 * (sip_proxy answers new requests 503 + Retry-After), registrations move to
 * the new holders with the ring change, calls in progress go on.
 * `node.drain-status` (operator or monitor) tells whether it is empty: no
 * transaction in progress and no binding held (the figures each role
 * reports as `transactions` and `bindings`).
 */
import { z } from "zod";
import type { PeerIdentity } from "../pki/index.js";
import type { ControlLink } from "./control/link.js";
import { ControlPayloadError } from "./errors.js";
import type { NodeRuntime } from "./runtime.js";

const drainCall = z.object({ draining: z.boolean() }).strict();

export interface DrainStatus {
  draining: boolean;
  /** Whether the snapshot already shows the node draining (it is out of the rings). */
  listedDraining: boolean;
  transactions: number;
  bindings: number;
  /** Draining, out of the rings, nothing in progress: safe to stop. */
  empty: boolean;
}

export function drainStatus(node: NodeRuntime): DrainStatus {
  const self = node.self();
  const draining = self.attrs["draining"] === true;
  const listed = node.currentSnapshot()?.members.find((m) => m.id === self.id);
  let transactions = 0;
  let bindings = 0;
  for (const s of Object.values(node.roleStatistics())) {
    transactions += s["transactions"] ?? 0;
    bindings += s["bindings"] ?? 0;
  }
  const listedDraining = listed?.attrs["draining"] === true;
  return { draining, listedDraining, transactions, bindings, empty: draining && listedDraining && transactions === 0 && bindings === 0 };
}

function requireOu(peer: PeerIdentity, method: string, allowed: readonly string[]): void {
  const ou = peer.subject["OU"] ?? "";
  if (!allowed.includes(ou)) throw new ControlPayloadError(`${method} needs a certificate with OU=${allowed.join(" or OU=")}; ${peer.subject["CN"] ?? "?"} has OU=${ou || "none"}`);
}

/** Serve `node.drain` and `node.drain-status` on the node's control link. */
export function serveDrain(control: ControlLink, node: NodeRuntime): void {
  control.handle("node.drain", (payload, peer) => {
    requireOu(peer, "node.drain", ["operator"]);
    const r = drainCall.safeParse(payload);
    if (!r.success) throw new ControlPayloadError(`node.drain: ${r.error.issues[0]?.message ?? "invalid request"}`);
    node.setDraining(r.data.draining);
    return drainStatus(node);
  });
  control.handle("node.drain-status", (_payload, peer) => {
    requireOu(peer, "node.drain-status", ["operator", "monitor"]);
    return drainStatus(node);
  });
}
