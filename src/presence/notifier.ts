/**
 * The presence notifier of the presentities a node holds, sans-IO: it
 * takes SUBSCRIBE, PUBLISH, rule changes and clock ticks, and answers the
 * response to send and the NOTIFYs (with their bodies) that follow. The
 * SIP layer around it (not wired yet) turns them into messages; the ring
 * holders replicate {@link PresentityEntry} values like registrations.
 *
 * - presence (RFC 3856): the body is the composition of the presentity's
 *   publications ({@link composePidf}), or the offline document when there
 *   is none, and for pending or politely blocked watchers.
 * - presence.winfo (RFC 3857): only the presentity itself may watch its
 *   watchers; the body is the watcherinfo document.
 * - Authorization from the presentity's pres-rules; rules changed through
 *   XCAP re-authorize every watcher (pending ones become active).
 * - xcap-diff (RFC 5875): only the user may watch their XCAP documents;
 *   the first NOTIFY lists them ({@link PresenceNotifierOptions.xcapState}),
 *   each write told by `xcap.changed` is one `<document>` diff.
 * - Limits: watchers per presentity, subscriptions per watcher (403).
 */
import { composePidf, offlinePidf } from "./pidf.js";
import { DEFAULT_PRESENCE_LIMITS, PRESENCE_PACKAGES, type PresenceLimits, type PresencePackage } from "./options.js";
import type { PresRules, WatcherContext } from "./pres-rules.js";
import { identityOf } from "./pres-rules.js";
import { PublicationStore, type Publication, type PublishOutcome, type PublishRequest } from "./publication.js";
import { grantExpires, Subscription, type Handling, type NotifyAction, type NotifyDialog, type SubscribeOutcome, type SubscriptionRecord } from "./subscription.js";
import { watcherInfoDocument } from "./winfo.js";
import { covers, xcapDiffDocument, XCAP_DIFF_TYPE, type XcapDocumentDiff, type XcapDocumentState } from "./xcap-diff.js";

/** One NOTIFY to send. */
export interface Notification {
  subscription: Readonly<SubscriptionRecord>;
  action: NotifyAction;
  /** Absent on a final NOTIFY. */
  body?: { contentType: string; text: string };
}

/** A presentity's whole presence state, for replication (the newer version wins). */
export interface PresentityEntry {
  aor: string;
  version: number;
  publications: Publication[];
  subscriptions: SubscriptionRecord[];
}

export interface SubscribeRequest {
  /** The subscription's dialog id (Call-ID, tags). */
  id: string;
  /** The Event header's package. */
  event: string;
  presentity: string;
  /** The watcher's authenticated identity, `sip:user@domain`. */
  watcher: string;
  expires?: number;
  /** The subscription's dialog (SIP), kept and replicated with it. */
  dialog?: NotifyDialog;
  /** xcap-diff: the documents named in the SUBSCRIBE body (absent: all the user's). */
  resources?: string[];
}

export interface PresenceNotifierOptions {
  limits?: Partial<PresenceLimits>;
  /** The compiled pres-rules of a presentity, or undefined when it has none. */
  rules: (aor: string) => PresRules | undefined;
  /** Members of resource lists named by external-list conditions. */
  list?: WatcherContext["list"];
  /** The handling of watchers of a presentity without a rules document. @default "confirm" */
  withoutRules?: Handling;
  /** xcap-diff: the XCAP root and the user's documents (read by the caller before the SUBSCRIBE); none known: an empty list. */
  xcapState?: (aor: string) => { root: string; documents: readonly XcapDocumentState[] } | undefined;
}

export type SubscribeAnswer = SubscribeOutcome | { status: 481; reason: string };

export class PresenceNotifier {
  readonly publications: PublicationStore;
  private readonly limits: PresenceLimits;
  private readonly subs = new Map<string, Subscription>();
  private readonly byPresentity = new Map<string, Set<string>>();
  private readonly versions = new Map<string, number>();
  /** The composed document of each presentity, by publication version: one composition serves every watcher. */
  private readonly composed = new Map<string, { version: number; text: string }>();

  constructor(private readonly opts: PresenceNotifierOptions) {
    this.limits = { ...DEFAULT_PRESENCE_LIMITS, ...opts.limits };
    this.publications = new PublicationStore(this.limits);
  }

  version(aor: string): number {
    return (this.versions.get(aor) ?? 0) + this.publications.version(aor);
  }

  /** The handling of a watcher by the presentity's rules. */
  authorize(presentity: string, watcher: string, now: number): Handling {
    const rules = this.opts.rules(presentity);
    if (!rules) return this.opts.withoutRules ?? "confirm";
    return rules.evaluate({ watcher, now, ...(this.opts.list ? { list: this.opts.list } : {}) }).handling;
  }

  /** An initial SUBSCRIBE (RFC 6665 4.2.1). */
  subscribe(req: SubscribeRequest, now: number): { answer: SubscribeAnswer; notifications: Notification[] } {
    if (!(PRESENCE_PACKAGES as readonly string[]).includes(req.event)) return { answer: { status: 489, reason: `event package "${req.event}" is not served (Allow-Events: ${PRESENCE_PACKAGES.join(", ")})` }, notifications: [] };
    const existing = this.subs.get(req.id);
    if (existing) return this.refresh(req.id, req.expires, now, req.dialog);
    const granted = grantExpires(req.expires, this.limits);
    if (typeof granted === "object") return { answer: { status: 423, minExpires: granted.tooBrief }, notifications: [] };
    const pkg = req.event as PresencePackage;
    const live = [...(this.byPresentity.get(req.presentity) ?? [])].map((id) => this.subs.get(id)!).filter((s) => s.state !== "terminated");
    if (live.length >= this.limits.maxWatchers) return { answer: { status: 403, reason: `${req.presentity} has the most watchers allowed (${this.limits.maxWatchers})` }, notifications: [] };
    const mine = [...this.subs.values()].filter((s) => s.state !== "terminated" && s.record.watcher === req.watcher).length;
    if (mine >= this.limits.maxSubscriptionsPerWatcher) return { answer: { status: 403, reason: `a watcher holds at most ${this.limits.maxSubscriptionsPerWatcher} subscriptions` }, notifications: [] };
    // RFC 3857 5.1.1: the watchers of a presentity are its owner's business; RFC 5875 5: so are their documents.
    const handling: Handling = pkg !== "presence" ? (identityOf(req.watcher) === req.presentity ? "allow" : "block") : this.authorize(req.presentity, req.watcher, now);
    const { sub, outcome } = Subscription.open({ id: req.id, package: pkg, presentity: req.presentity, watcher: req.watcher, expires: granted, handling, now, ...(req.dialog ? { dialog: req.dialog } : {}), ...(req.resources && pkg === "xcap-diff" ? { resources: req.resources } : {}) });
    if (outcome.status !== 200 && outcome.status !== 202) return { answer: outcome, notifications: [] };
    this.keep(sub);
    const notifications = [this.notification(sub, outcome.notify, now)];
    // A fetch (Expires: 0) ends with its one NOTIFY (RFC 6665 4.4.3).
    if (sub.state === "terminated") this.forget(sub);
    if (pkg === "presence") notifications.push(...this.winfoChanged(req.presentity, now));
    return { answer: outcome, notifications };
  }

  /** A refreshing SUBSCRIBE, or one with Expires: 0 (unsubscribe). */
  refresh(id: string, expires: number | undefined, now: number, dialog?: Pick<NotifyDialog, "reach" | "remoteTarget">): { answer: SubscribeAnswer; notifications: Notification[] } {
    const sub = this.subs.get(id);
    if (!sub) return { answer: { status: 481, reason: "no such subscription" }, notifications: [] };
    const granted = grantExpires(expires, this.limits);
    if (typeof granted === "object") return { answer: { status: 423, minExpires: granted.tooBrief }, notifications: [] };
    const answer = sub.refresh(granted, now, dialog?.reach, dialog?.remoteTarget);
    this.bump(sub.record.presentity);
    if (answer.status !== 200 && answer.status !== 202) return { answer, notifications: [] };
    const notifications = [this.notification(sub, answer.notify, now)];
    if (sub.state === "terminated") {
      this.forget(sub);
      if (sub.record.package === "presence") notifications.push(...this.winfoChanged(sub.record.presentity, now));
    }
    return { answer, notifications };
  }

  /** A PUBLISH for `aor`; a change of state notifies its active watchers. */
  publish(aor: string, req: PublishRequest, now: number): { answer: PublishOutcome; notifications: Notification[] } {
    const answer = this.publications.publish(aor, req, now);
    if (answer.status !== 200 || !answer.changed) return { answer, notifications: [] };
    return { answer, notifications: this.stateChanged(aor, now) };
  }

  /** The presentity's rules changed (xcap.changed): re-judge every presence watcher. */
  rulesChanged(aor: string, now: number): Notification[] {
    const out: Notification[] = [];
    for (const sub of this.watchersOf(aor, "presence")) {
      const action = sub.reauthorize(this.authorize(aor, sub.record.watcher, now), now);
      if (!action) continue;
      out.push(this.notification(sub, action, now));
      if (sub.state === "terminated") this.forget(sub);
    }
    if (out.length > 0) {
      this.bump(aor);
      out.push(...this.winfoChanged(aor, now));
    }
    return out;
  }

  /**
   * One of the user's XCAP documents changed (xcap.changed): a NOTIFY with
   * its diff to each active xcap-diff subscription covering it (RFC 5875).
   */
  xcapChanged(aor: string, xcapRoot: string, diff: XcapDocumentDiff, now: number): Notification[] {
    const out = [...this.watchersOf(aor, "xcap-diff")].filter((s) => s.state === "active" && covers(s.record.resources, diff.sel)).map((s) => this.notification(s, s.notifyAction(now), now, { root: xcapRoot, diffs: [diff] }));
    if (out.length > 0) this.bump(aor);
    return out;
  }

  /** Expire subscriptions and publications whose time is up. */
  tick(now: number): Notification[] {
    const out: Notification[] = [];
    const touched = new Set<string>();
    for (const sub of [...this.subs.values()]) {
      const action = sub.expire(now);
      if (!action) continue;
      out.push(this.notification(sub, action, now));
      this.forget(sub);
      touched.add(sub.record.presentity);
    }
    for (const aor of this.publications.expire(now)) out.push(...this.stateChanged(aor, now));
    for (const aor of touched) {
      this.bump(aor);
      out.push(...this.winfoChanged(aor, now));
    }
    return out;
  }

  /** The presentity's state for its replica. */
  entry(aor: string): PresentityEntry {
    const pubs = this.publications.entry(aor);
    return { aor, version: this.version(aor), publications: pubs.publications, subscriptions: [...this.watchersOf(aor)].map((s) => ({ ...s.record })) };
  }

  /** Adopt a replicated state when newer (a replica taking over continues the NOTIFY sequence). */
  apply(e: PresentityEntry): boolean {
    if (e.version <= this.version(e.aor)) return false;
    this.replace(e);
    return true;
  }

  /** Adopt a presentity's state whatever its version (the caller orders the versions, e.g. by wall clock). */
  replace(e: PresentityEntry): void {
    for (const s of [...this.watchersOf(e.aor)]) this.forget(s);
    this.publications.apply({ aor: e.aor, version: e.version, publications: e.publications });
    for (const r of e.subscriptions) this.keep(Subscription.restore(r));
    this.versions.set(e.aor, e.version - this.publications.version(e.aor));
  }

  /** Forget a presentity (handed over to other holders). */
  drop(aor: string): void {
    for (const s of [...this.watchersOf(aor)]) this.forget(s);
    this.byPresentity.delete(aor);
    this.publications.drop(aor);
    this.versions.delete(aor);
    this.composed.delete(aor);
  }

  /** The presentities with state here (subscriptions or publications). */
  presentities(): string[] {
    return [...new Set([...[...this.byPresentity].filter(([, ids]) => ids.size > 0).map(([a]) => a), ...this.publications.aors()])];
  }

  /** A subscription by id. */
  subscription(id: string): Readonly<SubscriptionRecord> | undefined {
    return this.subs.get(id)?.record;
  }

  /** End a subscription from the notifier's side (its NOTIFY got 481, the watcher is gone): no NOTIFY. */
  end(id: string, now: number): Notification[] {
    const sub = this.subs.get(id);
    if (!sub) return [];
    sub.terminate("deactivated", now);
    this.forget(sub);
    this.bump(sub.record.presentity);
    return sub.record.package === "presence" ? this.winfoChanged(sub.record.presentity, now) : [];
  }

  get subscriptionCount(): number {
    return this.subs.size;
  }

  private stateChanged(aor: string, now: number): Notification[] {
    return [...this.watchersOf(aor, "presence")].filter((s) => s.state === "active").map((s) => this.notification(s, s.notifyAction(now), now));
  }

  private winfoChanged(aor: string, now: number): Notification[] {
    return [...this.watchersOf(aor, "presence.winfo")].filter((s) => s.state === "active").map((s) => this.notification(s, s.notifyAction(now), now));
  }

  private notification(sub: Subscription, action: NotifyAction, now: number, change?: { root: string; diffs: XcapDocumentDiff[] }): Notification {
    const r = sub.record;
    if (action.state === "terminated") return { subscription: { ...r }, action };
    if (r.package === "xcap-diff") {
      // A change: its diff; otherwise (first NOTIFY, refresh) the full state of the covered documents.
      const state = change ? undefined : this.opts.xcapState?.(r.presentity);
      const root = change?.root ?? state?.root ?? "/xcap-root/";
      const diffs = change?.diffs ?? (state?.documents ?? []).filter((d) => covers(r.resources, d.sel)).map((d) => ({ sel: d.sel, newEtag: d.etag }));
      return { subscription: { ...r }, action, body: { contentType: XCAP_DIFF_TYPE, text: xcapDiffDocument(root, diffs) } };
    }
    if (r.package === "presence.winfo") {
      const watchers = [...this.watchersOf(r.presentity, "presence")].map((s) => s.record);
      return { subscription: { ...r }, action, body: { contentType: "application/watcherinfo+xml", text: watcherInfoDocument(r.presentity, r.notifies - 1, watchers, now) } };
    }
    const text = action.neutral ? offlinePidf(r.presentity) : this.document(r.presentity, now);
    return { subscription: { ...r }, action, body: { contentType: "application/pidf+xml", text } };
  }

  private document(aor: string, now: number): string {
    const version = this.publications.version(aor);
    const hit = this.composed.get(aor);
    if (hit && hit.version === version) return hit.text;
    const text = composePidf(aor, this.publications.publications(aor, now).map((p) => p.body));
    if (this.composed.size >= 10_000) this.composed.clear();
    this.composed.set(aor, { version, text });
    return text;
  }

  private *watchersOf(aor: string, pkg?: PresencePackage): Generator<Subscription> {
    for (const id of this.byPresentity.get(aor) ?? []) {
      const s = this.subs.get(id);
      if (s && (!pkg || s.record.package === pkg)) yield s;
    }
  }

  private keep(sub: Subscription): void {
    this.subs.set(sub.record.id, sub);
    let set = this.byPresentity.get(sub.record.presentity);
    if (!set) this.byPresentity.set(sub.record.presentity, (set = new Set()));
    set.add(sub.record.id);
    this.bump(sub.record.presentity);
  }

  private forget(sub: Subscription): void {
    this.subs.delete(sub.record.id);
    this.byPresentity.get(sub.record.presentity)?.delete(sub.record.id);
  }

  private bump(aor: string): void {
    this.versions.set(aor, (this.versions.get(aor) ?? 0) + 1);
  }
}
