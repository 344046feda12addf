/**
 * The presence agent of a `sip_proxy` node (docs/presence.md): the
 * presentities this node holds on the sip_proxy ring, their
 * {@link PresenceNotifier}, the NOTIFYs it sends as a UAC, replication to
 * the other holder, and hand-over on ring changes.
 *
 * - The edge (presence-interceptor.ts) hands each SUBSCRIBE / PUBLISH, as
 *   plain data, to the first reachable holder of the presentity
 *   ({@link route}): itself, or over the control link, one hop.
 * - The holder that handles a request answers it, sends the NOTIFYs that
 *   follow (one in flight per subscription, later ones coalesced to the
 *   newest), and pushes the presentity's whole state to the other holders
 *   (`presence.replicate`, versions by wall clock, newer wins). Pushes are
 *   coalesced: one in flight per holder, the presentities changed
 *   meanwhile go in the next one, each once with its newest state (1,000
 *   SUBSCRIBEs to one presentity cost a few pushes, not 1,000 growing ones).
 * - A replica keeps the state, dialogs and NOTIFY counters included: when
 *   the responsible node dies, the next PUBLISH reaches the replica (the
 *   edge asks the next holder) and it continues the dialogs.
 * - Clock ticks expire subscriptions and publications on every holder;
 *   only the responsible node (the first holder) sends the NOTIFYs that
 *   follow.
 * - Rules: the presentity's pres-rules document (XCAP, in the database),
 *   compiled once and cached until `xcap.changed` says it changed.
 */
import { describeError, type Clock, type Logger } from "../base/index.js";
import type { ControlLink } from "../node/index.js";
import type { RoleMap } from "../overlay/index.js";
import { DEFAULT_PRESENCE_LIMITS, PresenceNotifier, PresRules, PRESENCE_PACKAGES, subscriptionStateHeader, type Handling, type NotifyDialog, type Notification, type PresenceLimits, type PresentityEntry, type XcapDocumentDiff, type XcapDocumentState } from "../presence/index.js";
import { SipRequest, type Originator, type UacTarget } from "../sip/index.js";
import { HANDOFF_BATCH, MAX_CLOCK_SKEW_MS, parseAnswer, planHandOver, pushBatches, type DistributedLocation } from "./sip-location.js";
import {
  PRESENCE_PUBLISH,
  PRESENCE_REPLICATE,
  PRESENCE_SUBSCRIBE,
  publishCall,
  publishReply,
  replicateCall,
  subscribeCall,
  subscribeReply,
  type PublishCall,
  type PublishReply,
  type FirstNotify,
  type ReplicatedPresentity,
  type SubscribeCall,
  type SubscribeReply,
} from "./presence-wire.js";
import { LocationRequestError } from "./errors.js";
import { readExternalLists } from "./presence-lists.js";
import type { XcapDocumentKey } from "../db/index.js";

/** Compiled pres-rules kept per node. @default 10 000 */
export const MAX_CACHED_RULES = 10_000;

export interface PresenceAgentOptions {
  clock: Clock;
  logger: Logger;
  /** Sends the NOTIFYs (the SIP proxy's originator). */
  uac: Pick<Originator, "send">;
  limits?: Partial<PresenceLimits>;
  /** Handling of watchers of a presentity without a pres-rules document. @default "confirm" */
  withoutRules?: Handling;
  /** Reads a presentity's pres-rules document (XCAP); undefined when it has none. */
  loadRules?: (aor: string) => Promise<string | undefined>;
  /** Reads one XCAP document (the resource lists external-list conditions name); undefined when there is none. */
  loadDocument?: (key: XcapDocumentKey) => Promise<string | undefined>;
  /** xcap-diff: the XCAP root and the user's documents with their tags (the first NOTIFY's full state). */
  loadXcapState?: (aor: string) => Promise<{ root: string; documents: XcapDocumentState[] }>;
  /** The distributed service: the location's holders and the control link. Absent on a node alone. */
  cluster?: { self: string; control: ControlLink; location: DistributedLocation; map(): RoleMap | undefined };
}

export interface PresenceStats {
  subscribes: number;
  publishes: number;
  notifies: number;
  notifyFailures: number;
  replicatedOut: number;
  replicatedIn: number;
  handedOver: number;
}

interface Outbox {
  busy: boolean;
  next: Notification | undefined;
}

export class PresenceAgent {
  readonly notifier: PresenceNotifier;
  readonly stats: PresenceStats = { subscribes: 0, publishes: 0, notifies: 0, notifyFailures: 0, replicatedOut: 0, replicatedIn: 0, handedOver: 0 };
  private readonly log: Logger;
  private readonly limits: PresenceLimits;
  private readonly rules = new Map<string, PresRules | null>();
  /** external-list anchor → members (entry URIs), and the anchors each presentity's rules name. */
  private readonly listMembers = new Map<string, string[]>();
  private readonly listsOf = new Map<string, string[]>();
  private readonly versions = new Map<string, number>();
  private readonly outboxes = new Map<string, Outbox>();
  /** xcap-diff states read for the SUBSCRIBE being handled (the notifier reads them synchronously). */
  private readonly xcapStates = new Map<string, { root: string; documents: readonly XcapDocumentState[] }>();
  /** member id → presentities whose state must still reach it (a failed push, retried on the tick). */
  private readonly owed = new Map<string, Set<string>>();
  /** member id → presentities changed since its last push began. */
  private readonly dirty = new Map<string, Set<string>>();
  /** Members with a push in flight (or one scheduled). */
  private readonly pushing = new Set<string>();
  private previous: RoleMap | undefined;
  private handing: Promise<void> = Promise.resolve();

  constructor(private readonly opts: PresenceAgentOptions) {
    this.log = opts.logger;
    this.limits = { ...DEFAULT_PRESENCE_LIMITS, ...opts.limits };
    this.notifier = new PresenceNotifier({ rules: (aor) => this.rules.get(aor) ?? undefined, list: (anchor) => this.listMembers.get(anchor), xcapState: (aor) => this.xcapStates.get(aor), ...(opts.limits ? { limits: opts.limits } : {}), ...(opts.withoutRules ? { withoutRules: opts.withoutRules } : {}) });
    const c = opts.cluster;
    if (!c) return;
    c.control.handle(PRESENCE_SUBSCRIBE, (p, peer) => {
      c.location.requireSipProxy(peer, PRESENCE_SUBSCRIBE);
      const call = parse(subscribeCall, p);
      c.location.requireHolder(call.presentity, PRESENCE_SUBSCRIBE);
      return this.subscribe(call, true);
    });
    c.control.handle(PRESENCE_PUBLISH, (p, peer) => {
      c.location.requireSipProxy(peer, PRESENCE_PUBLISH);
      const call = parse(publishCall, p);
      c.location.requireHolder(call.presentity, PRESENCE_PUBLISH);
      return this.publish(call);
    });
    c.control.handle(PRESENCE_REPLICATE, (p, peer) => {
      const from = c.location.requireSipProxy(peer, PRESENCE_REPLICATE);
      let refused = 0;
      for (const e of parse(replicateCall, p).entries) {
        const holders = c.location.holders(e.aor);
        const before = this.previous ? c.location.holders(e.aor, this.previous) : [];
        if (!holders.includes(c.self) || (!holders.includes(from) && !before.includes(from))) {
          refused++;
          continue;
        }
        this.accept(clampEntry(e, opts.clock.wallNow(), this.limits));
      }
      if (refused > 0) this.log.warn({ from, refused }, "presence.replicate: entries of presentities the sender or this node does not hold were ignored");
      return { ok: true };
    });
  }

  /** The packages served (Allow-Events). */
  get packages(): readonly string[] {
    return PRESENCE_PACKAGES;
  }

  /** Hand a SUBSCRIBE to the first reachable holder of its presentity (this node, or one hop away). */
  async routeSubscribe(call: SubscribeCall): Promise<SubscribeReply> {
    const c = this.opts.cluster;
    if (!c) return this.subscribe(call);
    return (await c.location.viaHolders(call.presentity, () => this.subscribe(call), PRESENCE_SUBSCRIBE, call, () => undefined, (v) => parseAnswer(subscribeReply, v, PRESENCE_SUBSCRIBE))) as SubscribeReply;
  }

  /** Hand a PUBLISH to the first reachable holder of its presentity. */
  async routePublish(call: PublishCall): Promise<PublishReply> {
    const c = this.opts.cluster;
    if (!c) return this.publish(call);
    return (await c.location.viaHolders(call.presentity, () => this.publish(call), PRESENCE_PUBLISH, call, () => undefined, (v) => parseAnswer(publishReply, v, PRESENCE_PUBLISH))) as PublishReply;
  }

  /**
   * A SUBSCRIBE (initial or refresh), on a holder of its presentity. For
   * another node (`forEdge`), the immediate NOTIFY travels back with the
   * answer and that edge sends it after its 200: sent from here, it could
   * overtake the 200 on the way (clients such as libre's then refuse it).
   */
  async subscribe(call: SubscribeCall, forEdge = false): Promise<SubscribeReply> {
    this.stats.subscribes++;
    if (call.event === "xcap-diff") await this.loadXcapState(call.presentity);
    else await this.ensureRules(call.presentity);
    const now = this.opts.clock.wallNow();
    const known = this.notifier.subscription(call.id);
    if (!call.initial && !known) return { status: 481, reason: "Subscription Does Not Exist" };
    if (known && (known.watcher !== call.watcher || known.presentity !== call.presentity)) return { status: 403, reason: "the subscription belongs to another watcher" };
    const { answer, notifications } = known ? this.notifier.refresh(call.id, call.expires, now, { reach: call.dialog.reach, remoteTarget: call.dialog.remoteTarget }) : this.notifier.subscribe({ id: call.id, event: call.event, presentity: call.presentity, watcher: call.watcher, ...(call.expires !== undefined ? { expires: call.expires } : {}), dialog: call.dialog, ...(call.resources ? { resources: call.resources } : {}) }, now);
    this.xcapStates.delete(call.presentity);
    this.changed(call.presentity);
    const own = forEdge ? notifications.find((n) => n.subscription.id === call.id) : undefined;
    const rest = own ? notifications.filter((n) => n !== own) : notifications;
    // The answer goes first; the NOTIFYs right after it (RFC 6665 4.2.1.2: "immediately").
    if (rest.length > 0) setImmediate(() => this.dispatch(rest));
    if ("expires" in answer) return { status: 200, expires: answer.expires, ...(own ? { notify: { cseq: own.subscription.notifies, state: subscriptionStateHeader(own.action), ...(own.body ? { contentType: own.body.contentType, body: own.body.text } : {}) } } : {}) };
    if ("minExpires" in answer) return { status: 423, reason: "Interval Too Brief", minExpires: answer.minExpires };
    return { status: answer.status, reason: answer.reason };
  }

  /** A PUBLISH, on a holder of its presentity. */
  async publish(call: PublishCall): Promise<PublishReply> {
    this.stats.publishes++;
    const now = this.opts.clock.wallNow();
    const { answer, notifications } = this.notifier.publish(call.presentity, { ...(call.ifMatch !== undefined ? { ifMatch: call.ifMatch } : {}), ...(call.expires !== undefined ? { expires: call.expires } : {}), ...(call.body !== undefined ? { body: call.body } : {}), ...(call.contentType !== undefined ? { contentType: call.contentType } : {}) }, now);
    if (answer.status === 200) this.changed(call.presentity);
    this.dispatch(notifications);
    if (answer.status === 200) return { status: 200, etag: answer.etag, expires: answer.expires };
    if (answer.status === 423) return { status: 423, reason: "Interval Too Brief", minExpires: answer.minExpires };
    return { status: answer.status, reason: answer.reason };
  }

  /**
   * The owner's pres-rules changed (xcap.changed, told to the responsible
   * node): reload them and re-judge the watchers (pending ones allowed now
   * become active, RFC 5025), notify, and replicate; a replica forgets its
   * compiled rules whenever it adopts a newer state of the presentity.
   */
  async rulesChanged(aor: string): Promise<void> {
    this.forgetRules(aor);
    await this.ensureRules(aor);
    const notifications = this.notifier.rulesChanged(aor, this.opts.clock.wallNow());
    this.changed(aor);
    this.dispatch(notifications);
  }

  /**
   * One of the user's XCAP documents changed (xcap.changed, told to the
   * responsible node): its xcap-diff watchers get the diff (RFC 5875), and
   * the new NOTIFY counters are replicated.
   */
  xcapChanged(aor: string, xcapRoot: string, diff: XcapDocumentDiff): void {
    const notifications = this.notifier.xcapChanged(aor, xcapRoot, diff, this.opts.clock.wallNow());
    if (notifications.length === 0) return;
    this.changed(aor);
    this.dispatch(notifications);
  }

  private async loadXcapState(aor: string): Promise<void> {
    if (!this.opts.loadXcapState) return;
    try {
      this.xcapStates.set(aor, await this.opts.loadXcapState(aor));
    } catch (err) {
      // No database now: the first NOTIFY lists no document; the changes still come.
      this.log.warn({ aor, err: describeError(err) }, "XCAP documents could not be listed for xcap-diff");
    }
  }

  /** Once a second: expiries. Every holder applies them; the responsible node notifies. */
  tick(): void {
    const notifications = this.notifier.tick(this.opts.clock.wallNow());
    const mine = notifications.filter((n) => this.responsible(n.subscription.presentity));
    for (const aor of new Set(mine.map((n) => n.subscription.presentity))) this.changed(aor);
    this.dispatch(mine);
    if (this.owed.size > 0) this.retryOwed();
  }

  private responsible(aor: string): boolean {
    const c = this.opts.cluster;
    if (!c) return true;
    const set = c.location.holders(aor);
    return set.length === 0 || set[0] === c.self;
  }

  private async ensureRules(aor: string): Promise<void> {
    if (this.rules.has(aor) || !this.opts.loadRules) return;
    let compiled: PresRules | null = null;
    try {
      const text = await this.opts.loadRules(aor);
      if (text !== undefined) {
        const r = PresRules.parse(text);
        if (r instanceof PresRules) compiled = r;
        else this.log.warn({ aor, err: r.error }, "pres-rules document not usable: the presentity counts as without rules");
      }
    } catch (err) {
      // No database now: judge without rules, and ask again next time.
      this.log.warn({ aor, err: describeError(err) }, "pres-rules could not be read");
      return;
    }
    // RFC 5025 external-list: the buddy lists the rules name, read once with them.
    let lists: Map<string, string[]> | undefined;
    if (compiled && compiled.anchors.length > 0 && this.opts.loadDocument) {
      try {
        lists = await readExternalLists(aor, compiled.anchors, this.opts.loadDocument, this.log);
      } catch (err) {
        this.log.warn({ aor, err: describeError(err) }, "external lists could not be read");
        return;
      }
    }
    if (this.rules.size >= MAX_CACHED_RULES) {
      this.rules.clear();
      this.listsOf.clear();
      this.listMembers.clear();
    }
    this.forgetRules(aor);
    this.rules.set(aor, compiled);
    if (lists) {
      this.listsOf.set(aor, [...lists.keys()]);
      for (const [anchor, members] of lists) this.listMembers.set(anchor, members);
    }
  }

  /** Forget a presentity's compiled rules and the lists they named (read again next time). */
  private forgetRules(aor: string): void {
    this.rules.delete(aor);
    for (const anchor of this.listsOf.get(aor) ?? []) this.listMembers.delete(anchor);
    this.listsOf.delete(aor);
  }

  /** A local change of a presentity: a new version, pushed to the other holders. */
  private changed(aor: string): void {
    const now = this.opts.clock.wallNow();
    this.versions.set(aor, Math.max((this.versions.get(aor) ?? 0) + 1, now));
    const c = this.opts.cluster;
    if (!c) return;
    for (const id of c.location.holders(aor)) {
      if (id === c.self) continue;
      let set = this.dirty.get(id);
      if (!set) this.dirty.set(id, (set = new Set()));
      set.add(aor);
      this.schedulePush(id);
    }
  }

  /**
   * Push what changed for `id`: before the answer to the request that
   * changed it goes out (a microtask), or, while a push to `id` is in
   * flight, right after that push is answered.
   */
  private schedulePush(id: string): void {
    if (this.pushing.has(id)) return;
    this.pushing.add(id);
    queueMicrotask(() => {
      const set = this.dirty.get(id);
      this.dirty.delete(id);
      const aors = set ? [...set] : [];
      const slices: Promise<void>[] = [];
      for (let i = 0; i < aors.length; i += HANDOFF_BATCH) slices.push(this.push(id, aors.slice(i, i + HANDOFF_BATCH)));
      void Promise.all(slices).then(() => {
        this.pushing.delete(id);
        if (this.dirty.has(id)) this.schedulePush(id);
      });
    });
  }

  private entry(aor: string): ReplicatedPresentity {
    const e = this.notifier.entry(aor);
    return { aor, version: this.versions.get(aor) ?? 0, publications: e.publications, subscriptions: e.subscriptions };
  }

  /** Another holder's state of a presentity, adopted when newer than ours. */
  accept(e: ReplicatedPresentity): boolean {
    if (e.version <= (this.versions.get(e.aor) ?? -1)) return false;
    this.versions.set(e.aor, e.version);
    // The responsible node replicates after every rules change: ours may be stale.
    this.forgetRules(e.aor);
    const entry: PresentityEntry = { aor: e.aor, version: this.notifier.version(e.aor) + 1, publications: e.publications, subscriptions: e.subscriptions };
    this.notifier.replace(entry);
    this.stats.replicatedIn++;
    return true;
  }

  /** One `presence.replicate` of the current state of `aors`; settles (never rejects) once answered or failed. */
  private push(id: string, aors: string[]): Promise<void> {
    const c = this.opts.cluster!;
    this.stats.replicatedOut += aors.length;
    return c.control.call(id, PRESENCE_REPLICATE, { entries: aors.map((a) => this.entry(a)) }, 5000).then(
      () => undefined,
      (err: unknown) => {
        if (!c.location.holders(aors[0]!).includes(id)) return;
        this.log.debug({ to: id, presentities: aors.length, err: describeError(err) }, "presence replication failed, will retry");
        let set = this.owed.get(id);
        if (!set) this.owed.set(id, (set = new Set()));
        for (const a of aors) set.add(a);
      },
    );
  }

  private retryOwed(): void {
    const c = this.opts.cluster!;
    const owed = [...this.owed];
    this.owed.clear();
    for (const [id, aors] of owed) {
      const still = [...aors].filter((a) => c.location.holders(a).includes(id));
      for (let i = 0; i < still.length; i += HANDOFF_BATCH) void this.push(id, still.slice(i, i + HANDOFF_BATCH));
    }
  }

  /** Membership changed: push the presentities we hold to their new holders, drop those we no longer hold once handed over. */
  onMembership(map: RoleMap): void {
    const previous = this.previous;
    this.previous = map;
    this.handing = this.handing.then(() => this.handOver(previous, map)).catch((err: unknown) => this.log.error({ err: describeError(err) }, "presence hand-over failed"));
  }

  private async handOver(previous: RoleMap | undefined, map: RoleMap): Promise<void> {
    const c = this.opts.cluster;
    if (!c) return;
    const { batches, leaving } = planHandOver(this.notifier.presentities(), c.self, (aor) => c.location.holders(aor, map), (aor) => (previous ? c.location.holders(aor, previous) : []));
    const failed = await pushBatches(
      batches,
      async (id, slice) => {
        await c.control.call(id, PRESENCE_REPLICATE, { entries: slice.map((a) => this.entry(a)) }, 10_000);
        this.stats.handedOver += slice.length;
      },
      (id, slice, err) => {
        this.log.warn({ to: id, presentities: slice.length, err: describeError(err) }, "presence hand-over failed, will retry");
        let set = this.owed.get(id);
        if (!set) this.owed.set(id, (set = new Set()));
        for (const a of slice) set.add(a);
      },
    );
    for (const aor of leaving) {
      if (failed.has(aor) || c.location.holders(aor).includes(c.self)) continue;
      this.notifier.drop(aor);
      this.versions.delete(aor);
      this.forgetRules(aor);
    }
  }

  /** Send NOTIFYs: one in flight per subscription; a newer one waiting replaces an older one. */
  private dispatch(notifications: readonly Notification[]): void {
    for (const n of notifications) {
      if (!n.subscription.dialog) continue;
      const id = n.subscription.id;
      const box = this.outboxes.get(id);
      if (box?.busy) {
        box.next = n;
        continue;
      }
      const fresh: Outbox = { busy: true, next: undefined };
      this.outboxes.set(id, fresh);
      this.sendNotify(n, fresh);
    }
  }

  private sendNotify(n: Notification, box: Outbox): void {
    const sub = n.subscription;
    const d = sub.dialog!;
    const done = (failed: boolean, status?: number) => {
      if (failed) {
        this.stats.notifyFailures++;
        // RFC 6665 4.2.2: a NOTIFY answered 481 (or any failure but a retry-later) ends the subscription.
        if (n.action.state !== "terminated" && this.notifier.subscription(sub.id)) {
          this.log.info({ id: sub.id, presentity: sub.presentity, status }, "NOTIFY failed: subscription removed");
          this.dispatch(this.notifier.end(sub.id, this.opts.clock.wallNow()));
          this.changed(sub.presentity);
        }
        box.next = undefined;
      }
      const next = box.next;
      box.next = undefined;
      if (next && this.notifier.subscription(sub.id)) return this.sendNotify(next, box);
      this.outboxes.delete(sub.id);
    };
    const req = notifyRequest(d, sub.package, { cseq: sub.notifies, state: subscriptionStateHeader(n.action), ...(n.body ? { contentType: n.body.contentType, body: n.body.text } : {}) });
    this.stats.notifies++;
    this.opts.uac
      .send(req, notifyTarget(d, sub.expiresAt), {
        onResponse: (res) => {
          if (res.status < 200) return;
          this.log.debug({ id: sub.id, cseq: sub.notifies, state: n.action.state, status: res.status }, "NOTIFY answered");
          // 2xx: delivered. Other failures end the subscription (RFC 6665 4.2.2), except a 408/5xx-style "try later" we do not retry either.
          done(res.status >= 300, res.status);
        },
        onFailure: () => done(true),
      })
      .then(
        (sent) => {
          if (!sent) done(true);
        },
        (err: unknown) => {
          this.log.warn({ err: describeError(err), id: sub.id }, "NOTIFY could not be sent");
          done(true);
        },
      );
  }

  /** Send the immediate NOTIFY a holder answered for this edge (after the 200 went); a failure is only logged. */
  sendFirstNotify(dialog: NotifyDialog, pkg: string, n: FirstNotify, expiresSec: number): void {
    const expiresAt = this.opts.clock.wallNow() + expiresSec * 1000;
    this.stats.notifies++;
    const fail = (why: string) => {
      this.stats.notifyFailures++;
      this.log.info({ callId: dialog.callId, why }, "immediate NOTIFY not delivered");
    };
    this.opts.uac
      .send(notifyRequest(dialog, pkg, n), notifyTarget(dialog, expiresAt), {
        onResponse: (res) => {
          if (res.status >= 200) this.log.debug({ callId: dialog.callId, cseq: n.cseq, status: res.status }, "immediate NOTIFY answered");
          if (res.status >= 300) fail(`answered ${res.status}`);
        },
        onFailure: (reason) => fail(reason),
      })
      .then(
        (sent) => (sent ? undefined : fail("no next hop")),
        (err: unknown) => fail(String(describeError(err))),
      );
  }
}

/**
 * Another holder's entry, bounded: its version at most {@link MAX_CLOCK_SKEW_MS}
 * ahead of our clock, expiries no later than the longest grant plus that
 * skew (a far-future value would pin the state and stop replication).
 */
function clampEntry(e: ReplicatedPresentity, now: number, l: PresenceLimits): ReplicatedPresentity {
  const subs = now + l.maxSubscribeExpires * 1000 + MAX_CLOCK_SKEW_MS;
  const pubs = now + l.maxPublishExpires * 1000 + MAX_CLOCK_SKEW_MS;
  return {
    ...e,
    version: Math.min(e.version, now + MAX_CLOCK_SKEW_MS),
    publications: e.publications.map((p) => ({ ...p, expiresAt: Math.min(p.expiresAt, pubs) })),
    subscriptions: e.subscriptions.map((r) => ({ ...r, expiresAt: Math.min(r.expiresAt, subs) })),
  };
}

/** A NOTIFY in the subscription's dialog (RFC 6665 4.2.2, RFC 3261 12.2.1.1). */
function notifyRequest(d: NotifyDialog, pkg: string, n: FirstNotify): SipRequest {
  const req = new SipRequest("NOTIFY", d.remoteTarget, [], Buffer.alloc(0));
  for (const r of d.routeSet) req.append("route", r);
  req.append("max-forwards", "70");
  req.append("from", `${d.localUri};tag=${d.localTag}`);
  req.append("to", `${d.remoteUri};tag=${d.remoteTag}`);
  req.append("call-id", d.callId);
  req.append("cseq", `${n.cseq} NOTIFY`);
  req.append("contact", d.contact);
  req.append("event", `${pkg}${d.eventId !== undefined ? `;id=${d.eventId}` : ""}`);
  req.append("subscription-state", n.state);
  if (n.body !== undefined && n.contentType !== undefined) {
    req.append("content-type", n.contentType);
    req.body = Buffer.from(n.body);
  }
  return req;
}

/** Where a NOTIFY goes: the watcher's flow, through the member that holds it. */
function notifyTarget(d: NotifyDialog, expiresAt: number): UacTarget {
  return { uri: d.remoteTarget, contact: d.remoteTarget, flowId: d.reach.flowId, transport: d.reach.transport, source: d.reach.source, regId: undefined, edge: d.reach.edge, expires: expiresAt + 60_000, path: [] };
}

function parse<T>(schema: { safeParse(v: unknown): { success: true; data: T } | { success: false; error: { issues: Array<{ path: PropertyKey[]; message: string }> } } }, payload: unknown): T {
  const r = schema.safeParse(payload);
  if (!r.success) throw new LocationRequestError(`invalid request: ${r.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ").slice(0, 300)}`);
  return r.data;
}
