/**
 * GRUUs (RFC 5627): the registrar hands a client that supports them its
 * public GRUU, `sip:AOR;gr=<instance>` (registrar.ts). A request whose
 * Request-URI is one of them is for that instance only: the proxy sends it
 * to the instance's registered flow, whatever the method (in-dialog ACK,
 * BYE, re-INVITE, NOTIFY, or an initial request). Pure functions.
 */
import type { SipUri } from "../message/index.js";
import type { Binding } from "../registrar/index.js";

/** The instance a GRUU names (`gr` parameter, without `<>`), or undefined when `uri` is no GRUU. */
export function gruuInstance(uri: SipUri): string | undefined {
  const gr = uri.params.get("gr");
  if (gr === undefined || gr === null || gr === "" || uri.user === undefined) return undefined;
  return gr;
}

/**
 * The binding a GRUU's request goes to among the AOR's bindings: one of
 * the instance's (RFC 5627 8.4.1: "the request ... MUST be sent only to
 * contacts of that instance"); of several flows of one instance (RFC 5626
 * reg-ids), the most recently refreshed: they are redundant paths to the
 * same device, not devices to fork to.
 */
export function gruuTarget(bindings: readonly Binding[], instance: string): Binding | undefined {
  const want = instance.toLowerCase();
  let best: Binding | undefined;
  for (const b of bindings) {
    if (b.instance === undefined || b.instance.replace(/^<|>$/g, "").toLowerCase() !== want) continue;
    if (!best || b.updatedAt > best.updatedAt) best = b;
  }
  return best;
}
