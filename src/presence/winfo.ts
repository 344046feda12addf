/**
 * Watcher information (RFC 3857 event package `presence.winfo`, RFC 3858
 * document `application/watcherinfo+xml`): who watches a presentity and
 * in which state, so its owner can confirm pending watchers. Each winfo
 * subscription numbers its documents (`version`), full first, then full
 * again on every change (partial documents are allowed but not required).
 */
import { escapeXml } from "../base/index.js";
import type { SubscriptionRecord, SubscriptionState, TerminationReason } from "./subscription.js";

export const WINFO_NS = "urn:ietf:params:xml:ns:watcherinfo";

/** RFC 3858 watcher status and the event that led to it. */
function statusOf(s: SubscriptionRecord): { status: "pending" | "active" | "terminated" | "waiting"; event: string } {
  const st: SubscriptionState = s.state;
  if (st === "terminated") return { status: "terminated", event: terminatedEvent(s.reason) };
  if (st === "pending") return { status: "pending", event: "subscribe" };
  return { status: "active", event: s.handling === "allow" || s.handling === "polite-block" ? "approved" : "subscribe" };
}

function terminatedEvent(r: TerminationReason | undefined): string {
  switch (r) {
    case "timeout":
    case "rejected":
    case "giveup":
    case "noresource":
    case "probation":
    case "deactivated":
      return r;
    default:
      return "deactivated";
  }
}

/** The full watcherinfo document of one presentity's presence watchers. */
export function watcherInfoDocument(presentity: string, version: number, watchers: readonly SubscriptionRecord[], now: number): string {
  const items = watchers
    .filter((w) => w.package === "presence")
    .map((w) => {
      const { status, event } = statusOf(w);
      const left = Math.max(0, Math.ceil((w.expiresAt - now) / 1000));
      return `<watcher id="${escapeXml(w.id)}" status="${status}" event="${event}"${status === "terminated" ? "" : ` expiration="${left}"`}>${escapeXml(w.watcher)}</watcher>`;
    });
  return `<?xml version="1.0" encoding="UTF-8"?>\n<watcherinfo xmlns="${WINFO_NS}" version="${version}" state="full"><watcher-list resource="sip:${escapeXml(presentity)}" package="presence">${items.join("")}</watcher-list></watcherinfo>\n`;
}
