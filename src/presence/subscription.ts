/**
 * The notifier side of one subscription (RFC 6665), as an explicit state
 * machine with guarded transitions. Time is an input: every call takes
 * `now` (ms), and {@link Subscription.expire} is what the owner calls when
 * the deadline passes, so tests drive expiry without waiting. Each
 * transition returns what to answer and whether to send a NOTIFY; nothing
 * here sends anything.
 *
 * ```
 *            SUBSCRIBE (authorised: allow / polite-block)
 *   (new) ─────────────────────────────────────────────► active
 *     │  SUBSCRIBE (confirm)                                 ▲
 *     └──────────────────────► pending ──── rules allow ─────┘
 *   pending/active ── Expires: 0 | expiry | rules block | deactivate ──► terminated
 * ```
 */
import type { PresencePackage, PresenceLimits } from "./options.js";

export type SubscriptionState = "pending" | "active" | "terminated";

/** RFC 6665 4.2.2 / 8.2.3 reasons of a terminated Subscription-State. */
export type TerminationReason = "deactivated" | "probation" | "rejected" | "timeout" | "giveup" | "noresource" | "invariant";

/** The sub-handling decided by the presentity's rules (RFC 5025 3.2.1). */
export type Handling = "block" | "confirm" | "polite-block" | "allow";

/** What the notifier tells the watcher in a NOTIFY. */
export interface NotifyAction {
  state: SubscriptionState;
  /** Seconds left, for pending/active. */
  expires?: number;
  reason?: TerminationReason;
  /** Polite blocking: the watcher sees a neutral (offline) document, not the real one (RFC 5025 3.2.1). */
  neutral: boolean;
}

/**
 * The notifier's side of the subscription's dialog (RFC 6665 4.1.2.1,
 * RFC 3261 12.1.1): what its NOTIFYs carry and where they go. Plain data,
 * replicated with the subscription so a replica continues the dialog.
 */
export interface NotifyDialog {
  callId: string;
  /** Our tag: the To tag of our answer, the From tag of our NOTIFYs. */
  localTag: string;
  /** The watcher's tag (From tag of its SUBSCRIBE). */
  remoteTag: string;
  /** From of our NOTIFYs: the SUBSCRIBE's To, without tag. */
  localUri: string;
  /** To of our NOTIFYs: the SUBSCRIBE's From, without tag. */
  remoteUri: string;
  /** The watcher's Contact URI: the Request-URI of our NOTIFYs. */
  remoteTarget: string;
  /** The SUBSCRIBE's Record-Route entries, in order (our Route set). */
  routeSet: string[];
  /** The Event header's `id` parameter. */
  eventId?: string;
  /** Our Contact (where the watcher's in-dialog requests come back). */
  contact: string;
  /** How the watcher is reached: the flow its SUBSCRIBE came on, and the member holding that flow. */
  reach: { flowId: string; transport: string; source: { address: string; port: number }; edge?: string };
}

/** The serializable state of a subscription, for replication. */
export interface SubscriptionRecord {
  id: string;
  package: PresencePackage;
  /** The presentity (`user@domain`). */
  presentity: string;
  /** The watcher's identity (`sip:...`, from the authenticated From). */
  watcher: string;
  state: SubscriptionState;
  handling: Handling;
  /** Deadline, ms since the epoch. */
  expiresAt: number;
  reason?: TerminationReason;
  /** NOTIFY CSeq-like counter: a replica continues the sequence. */
  notifies: number;
  /** The dialog, when the subscription came over SIP. */
  dialog?: NotifyDialog;
  /** xcap-diff (RFC 5875): the documents covered, relative to the XCAP root; absent: all the owner's. */
  resources?: string[];
}

export type SubscribeOutcome =
  | { status: 200 | 202; expires: number; notify: NotifyAction }
  | { status: 423; minExpires: number }
  | { status: 403 | 489; reason: string };

/** The Subscription-State header value (RFC 6665 8.2.3). */
export function subscriptionStateHeader(n: NotifyAction): string {
  if (n.state === "terminated") return `terminated${n.reason ? `;reason=${n.reason}` : ""}`;
  return `${n.state};expires=${n.expires ?? 0}`;
}

/** The granted duration, or the 423 floor (RFC 6665 4.2.1.1: 0 is always allowed). */
export function grantExpires(requested: number | undefined, limits: Pick<PresenceLimits, "minSubscribeExpires" | "maxSubscribeExpires" | "defaultSubscribeExpires">): number | { tooBrief: number } {
  const want = requested ?? limits.defaultSubscribeExpires;
  if (want !== 0 && want < limits.minSubscribeExpires) return { tooBrief: limits.minSubscribeExpires };
  return Math.min(want, limits.maxSubscribeExpires);
}

export class Subscription {
  private constructor(private rec: SubscriptionRecord) {}

  static restore(rec: SubscriptionRecord): Subscription {
    return new Subscription({ ...rec });
  }

  /**
   * A new subscription from an initial SUBSCRIBE whose Expires was granted
   * (`expires` seconds) and whose watcher the rules judged (`handling`).
   * RFC 6665 4.2.1.2: the notifier sends a NOTIFY at once, even for a
   * fetch (Expires: 0), which ends the subscription ("timeout").
   */
  static open(init: { id: string; package: PresencePackage; presentity: string; watcher: string; expires: number; handling: Handling; now: number; dialog?: NotifyDialog; resources?: string[] }): { sub: Subscription; outcome: SubscribeOutcome } {
    const sub = new Subscription({ id: init.id, package: init.package, presentity: init.presentity, watcher: init.watcher, state: "pending", handling: init.handling, expiresAt: init.now + init.expires * 1000, notifies: 0, ...(init.dialog ? { dialog: init.dialog } : {}), ...(init.resources ? { resources: init.resources } : {}) });
    // RFC 5025 3.2.1: block rejects the subscription (403); the others accept it.
    if (init.handling === "block") {
      sub.rec.state = "terminated";
      sub.rec.reason = "rejected";
      return { sub, outcome: { status: 403, reason: "the presentity's rules block this watcher" } };
    }
    if (init.expires === 0) {
      sub.rec.state = "terminated";
      sub.rec.reason = "timeout";
      return { sub, outcome: { status: 200, expires: 0, notify: sub.notifyAction(init.now) } };
    }
    sub.rec.state = init.handling === "confirm" ? "pending" : "active";
    // RFC 6665 4.2.1.1: 202 was the pending answer in RFC 3265; 6665 uses 200 for both. We answer 200.
    return { sub, outcome: { status: 200, expires: init.expires, notify: sub.notifyAction(init.now) } };
  }

  get record(): Readonly<SubscriptionRecord> {
    return this.rec;
  }

  get state(): SubscriptionState {
    return this.rec.state;
  }

  /**
   * A refreshing SUBSCRIBE within the dialog (RFC 6665 4.2.1.2). Expires 0
   * ends it (with a final NOTIFY, reason timeout). A terminated
   * subscription cannot be refreshed: 481 is the dialog layer's answer.
   */
  refresh(expires: number, now: number, reach?: NotifyDialog["reach"], remoteTarget?: string): SubscribeOutcome | { status: 481; reason: string } {
    if (this.rec.state === "terminated") return { status: 481, reason: "the subscription has ended" };
    // RFC 6665 4.1.2.1 / RFC 3261 12.2.2: a refresh may change the remote target (and the watcher's flow).
    if (this.rec.dialog && (reach || remoteTarget)) this.rec.dialog = { ...this.rec.dialog, ...(reach ? { reach } : {}), ...(remoteTarget ? { remoteTarget } : {}) };
    if (expires === 0) return { status: 200, expires: 0, notify: this.terminate("timeout", now) };
    this.rec.expiresAt = now + expires * 1000;
    return { status: 200, expires, notify: this.notifyAction(now) };
  }

  /**
   * The presentity's rules changed (RFC 5025: pending subscriptions become
   * active when the owner allows them). Answers the NOTIFY to send, or
   * undefined when nothing changed for this watcher.
   */
  reauthorize(handling: Handling, now: number): NotifyAction | undefined {
    if (this.rec.state === "terminated" || handling === this.rec.handling) return undefined;
    this.rec.handling = handling;
    if (handling === "block") return this.terminate("rejected", now);
    const next: SubscriptionState = handling === "confirm" ? "pending" : "active";
    // RFC 6665 4.1.3: an active subscription does not go back to pending; a confirm after allow keeps it active.
    if (this.rec.state === "active" && next === "pending") return undefined;
    this.rec.state = next;
    return this.notifyAction(now);
  }

  /** The deadline passed (RFC 6665 4.2.2: final NOTIFY with reason timeout). */
  expire(now: number): NotifyAction | undefined {
    if (this.rec.state === "terminated" || now < this.rec.expiresAt) return undefined;
    return this.terminate("timeout", now);
  }

  /** End it from the notifier's side (the presentity is gone, the node hands it over...). */
  terminate(reason: TerminationReason, now: number): NotifyAction {
    this.rec.state = "terminated";
    this.rec.reason = reason;
    return this.notifyAction(now);
  }

  /** A NOTIFY for the current state (a state change of the presentity, or the first one). */
  notifyAction(now: number): NotifyAction {
    this.rec.notifies++;
    const neutral = this.rec.handling === "polite-block" || this.rec.state === "pending";
    if (this.rec.state === "terminated") return { state: "terminated", ...(this.rec.reason ? { reason: this.rec.reason } : {}), neutral };
    return { state: this.rec.state, expires: Math.max(0, Math.ceil((this.rec.expiresAt - now) / 1000)), neutral };
  }
}
