/**
 * The distributed location service of the `sip_proxy` role.
 *
 * Each AOR has a holder set on the `sip_proxy` ring: its responsible node
 * and the next distinct node(s) clockwise (`replicas` in all, default 2).
 * The edge node that receives a REGISTER authenticates it and hands the
 * registrar input to the first reachable holder (`sip.register`), which
 * applies it and pushes the AOR's full binding set, with a version, to the
 * other holders (`sip.replicate`). Lookups go to the first reachable holder
 * (`sip.lookup`), so when the responsible node dies its successor answers
 * at once, before the manager has noticed; a holder answers from its own
 * copy, and a replica that has nothing asks the holders before it (its copy
 * trails theirs by one push). On every membership change each
 * node pushes the AORs it holds to the nodes that newly belong to their
 * holder sets, and drops those it no longer holds once they are handed
 * over: only the slices that change move, in the background.
 *
 * RFC 5626 flow failure: the edge node whose connection that carried
 * registrations closed tells the AOR's first reachable holder
 * (`sip.flowFailed`), which drops the bindings of that flow and replicates
 * the AOR like any other change. A holder takes it only from the edge the
 * bindings name: a member cannot remove another's clients.
 *
 * Replication is by full AOR state with a version (wall-clock ms, bumped by
 * one when needed), so pushes are idempotent and deletions and expiries
 * travel like any other change; every holder also expires bindings itself.
 *
 * Authorisation on the control link ({@link requireSipProxy},
 * {@link requireHolder}): a caller that changes or reads state must be a
 * live `sip_proxy` member of the current membership (its certificate CN);
 * `sip.register` is served only by a holder of the AOR; `sip.replicate`
 * entries are taken only from a holder of the AOR (now or before the last
 * change, for hand-overs) by a holder of it, with versions and binding
 * expiries clamped to the present (a version or expiry far in the future
 * would pin a binding forever and stop replication). Every request and
 * every answer from another holder is validated with a schema.
 */
import { z } from "zod";
import { describeError, type Clock, type Logger, type TimerHandle } from "../base/index.js";
import type { ControlLink } from "../node/index.js";
import type { RoleMap } from "../overlay/index.js";
import type { PeerIdentity } from "../pki/index.js";
import { LocationNotReadyError, LocationRequestError } from "./errors.js";
import { LocationUnavailableError, type Registrar, type LocationStore, type Binding, type FailedFlow, type LocationService, type RegisterData, type RegisterOutcome } from "../sip/index.js";

/** @default 2 (the responsible node and one replica) */
export const DEFAULT_REPLICAS = 2;
/** AORs per `sip.replicate` call during hand-over. @default 500 */
export const HANDOFF_BATCH = 500;
const ROLE = "sip_proxy";
const RETRY_MS = 1000;
/** How long a holder that failed a call is asked last. */
const SUSPECT_MS = 3000;
/** How many call timeouts a read ({@link DistributedLocation.readViaHolders}) waits for a slow holder that has not failed. */
export const HOLDER_PATIENCE = 3;
/** After a membership change, a holder with nothing for an AOR asks the previous holders for this long. */
const HANDOFF_GRACE_MS = 15_000;

/**
 * The entity attribute a SIP worker advertises: the host (shared public
 * address) whose port it serves with the host's other workers. Holders of
 * an AOR are picked on distinct hosts first, so that one host going down
 * does not take every copy. docs/sip-cluster.md, "Every core of a host".
 */
export const SIP_HOST_ATTR = "sip_host";
/** How far past the first `replicas` successors the holder rule looks for distinct hosts. @default 8 × replicas */
const HOST_SPREAD_WALK = 8;

/** Versions and expiries from another holder may run ahead of our clock by this much at most. @default 60 s */
export const MAX_CLOCK_SKEW_MS = 60_000;
/** A replicated binding expires at the latest this long from now (the registrar's longest, 1 day, plus skew). @default 86 460 s */
export const MAX_REPLICATED_EXPIRY_MS = 86_400_000 + MAX_CLOCK_SKEW_MS;

const addressSchema = z.object({ address: z.string().max(64), port: z.number().int().min(0).max(65535) }).strict();
const registerDataSchema = z
  .object({
    callId: z.string().max(512),
    cseq: z.number().int().nonnegative(),
    contacts: z.array(z.string().max(2048)).max(64),
    expires: z.string().max(32).optional(),
    gruu: z.boolean(),
    path: z.array(z.string().max(2048)).max(16),
    flow: z.object({ id: z.string().max(256), transport: z.string().max(8), source: addressSchema }).strict(),
    edge: z.string().max(128).optional(),
  })
  .strict();
const bindingSchema = z
  .object({
    uri: z.string().max(2048),
    contact: z.string().max(4096),
    expires: z.number().finite(),
    q: z.number().finite().min(0).max(1),
    callId: z.string().max(512),
    cseq: z.number().int().nonnegative().max(2 ** 31),
    instance: z.string().max(512).optional(),
    regId: z.number().int().optional(),
    flowId: z.string().max(256),
    transport: z.string().max(8),
    source: addressSchema,
    path: z.array(z.string().max(2048)).max(16),
    updatedAt: z.number().finite(),
    edge: z.string().max(128).optional(),
  })
  .strict();
const aorSchema = z.string().min(3).max(512);
/** `replica`: the caller holds the AOR too and takes the answer as its copy (no separate push to it). */
const registerCall = z.object({ aor: aorSchema, data: registerDataSchema, replica: z.boolean().optional() }).strict();
const lookupCall = z.object({ aor: aorSchema, forwarded: z.boolean().optional() }).strict();
const flowFailedCall = z.object({ aor: aorSchema, flowId: z.string().max(256) }).strict();
const flowFailedAnswer = z.object({ removed: z.number().int().nonnegative().max(64) }).strict();
const replicateCall = z.object({ entries: z.array(z.object({ aor: aorSchema, version: z.number().finite().nonnegative(), bindings: z.array(bindingSchema).max(64) }).strict()).max(HANDOFF_BATCH) }).strict();
/** Answers of other holders, validated before use. */
const lookupAnswer = z.array(bindingSchema).max(64);
const registerAnswer = z.union([
  z.object({ status: z.literal(200), aor: aorSchema, bindings: z.array(bindingSchema).max(64), gruu: z.boolean(), version: z.number().finite().nonnegative().optional() }).strict(),
  z.object({ status: z.union([z.literal(400), z.literal(403), z.literal(404), z.literal(423), z.literal(500), z.literal(503)]), reason: z.string().max(256), minExpires: z.number().int().nonnegative().optional() }).strict(),
]);

export interface ReplicaEntry {
  aor: string;
  version: number;
  bindings: Binding[];
}

export interface DistributedLocationOptions {
  self: string;
  control: ControlLink;
  registrar: Registrar;
  clock: Clock;
  logger: Logger;
  /** The current role map (undefined before the first snapshot). */
  map(): RoleMap | undefined;
  /** @default DEFAULT_REPLICAS */
  replicas?: number;
  /** Time limit of one call to another holder. @default 1500 ms */
  callTimeoutMs?: number;
  /** Why this node serves no AOR now (cut off from the cluster, src/node/cut-off.ts), or undefined. */
  cutOff?(): string | undefined;
}

export interface LocationStats {
  remoteRegisters: number;
  remoteLookups: number;
  holderFailovers: number;
  replicatedOut: number;
  replicatedIn: number;
  handedOver: number;
  dropped: number;
  /** Lookups answered by a previous holder while a hand-over was under way. */
  handOverLookups: number;
  /** Lookups a replica with no binding for the AOR passed on to the holders before it (its copy may trail theirs). */
  replicaMissLookups: number;
  /** Of `replicatedIn`: answers to this replica's own `sip.register` kept as its copy (no push needed). */
  answeredAsReplica: number;
  /** Replicated entries ignored: the sender or this node does not hold the AOR. */
  replicationRefused: number;
  /** Entries pushed to this node before its membership view made it their holder (the sender pushes them again). */
  replicationDeferred: number;
  /** Bindings removed (as a holder) because the connection they were registered over closed (RFC 5626). */
  flowFailures: number;
}

/** JSON drops `undefined`: optional fields come back absent, the binding keeps them as explicit keys. */
function toBinding(b: z.infer<typeof bindingSchema>): Binding {
  return { ...b, instance: b.instance, regId: b.regId };
}

export class DistributedLocation implements LocationService {
  readonly stats: LocationStats = { remoteRegisters: 0, remoteLookups: 0, holderFailovers: 0, replicatedOut: 0, replicatedIn: 0, handedOver: 0, dropped: 0, handOverLookups: 0, replicaMissLookups: 0, answeredAsReplica: 0, replicationRefused: 0, replicationDeferred: 0, flowFailures: 0 };
  private readonly versions = new Map<string, number>();
  private readonly replicas: number;
  private readonly log: Logger;
  private previous: RoleMap | undefined;
  /** The membership before the last change, and when it changed (wall-clock ms). */
  private before: RoleMap | undefined;
  private changedAt = 0;
  /** member id → AORs whose state must still reach it (failed pushes, retried). */
  private readonly owed = new Map<string, Set<string>>();
  /** AORs changed in this turn of the event loop, per holder to push them to. */
  private readonly outgoing = new Map<string, Set<string>>();
  private flushing = false;
  private retryTimer: ReturnType<Clock["setTimeout"]> | undefined;
  private handing: Promise<void> = Promise.resolve();
  /** Holders that failed a call recently (member id → until, wall-clock ms): tried last, logged once. */
  private readonly suspects = new Map<string, number>();
  private stopped = false;

  constructor(private readonly opts: DistributedLocationOptions) {
    this.replicas = Math.max(1, opts.replicas ?? DEFAULT_REPLICAS);
    this.log = opts.logger;
    const { control } = opts;
    control.handle("sip.register", (p, peer) => {
      const from = this.requireSipProxy(peer, "sip.register");
      const { aor, data, replica } = parse(registerCall, p);
      this.requireHolder(aor, "sip.register");
      // A caller that holds the AOR as well gets the new state and its version in the answer instead of a push.
      const asReplica = replica === true && from !== this.opts.self && this.holders(aor).includes(from);
      const outcome = this.applyLocal(aor, data as RegisterData, asReplica ? from : undefined);
      return outcome.status === 200 && asReplica ? { ...outcome, version: this.versions.get(aor) ?? 0 } : outcome;
    });
    // Read-only: also for operator tools (`thor location`, certificate OU=monitor); nodes must be live sip_proxy members.
    control.handle("sip.lookup", (p, peer) => {
      if (peer.subject["OU"] !== "monitor") this.requireSipProxy(peer, "sip.lookup");
      const { aor, forwarded } = parse(lookupCall, p);
      // Before its first membership a node cannot know what it should hold: the caller asks the next holder.
      if (!this.previous) throw new LocationNotReadyError("no membership applied yet");
      this.requireMember("sip.lookup");
      return this.lookupHolder(aor, forwarded === true);
    });
    // The edge that held a closed connection: only the bindings that name the caller as their edge go.
    control.handle("sip.flowFailed", (p, peer) => {
      const from = this.requireSipProxy(peer, "sip.flowFailed");
      const { aor, flowId } = parse(flowFailedCall, p);
      this.requireHolder(aor, "sip.flowFailed");
      return { removed: this.dropFlowLocal(aor, { id: flowId, edge: from }) };
    });
    control.handle("sip.replicate", (p, peer) => {
      const from = this.requireSipProxy(peer, "sip.replicate");
      const now = this.opts.clock.wallNow();
      let refused = 0;
      let notYet = 0;
      for (const e of parse(replicateCall, p).entries) {
        // Only a holder of the AOR (now, or before the last change while it hands over) may push it, and only to a holder.
        const senderHolds = this.holders(e.aor).includes(from) || (this.before !== undefined && this.holders(e.aor, this.before).includes(from));
        if (!senderHolds) {
          refused++;
          continue;
        }
        if (!this.holders(e.aor).includes(this.opts.self)) {
          // The sender's view makes this node a holder, this node's does not (yet): under load one learns
          // of a membership change before the other. Not taken, but not lost either: the call fails below
          // and the sender keeps the entries and pushes them again (its retry re-checks its own view).
          notYet++;
          continue;
        }
        this.accept({ aor: e.aor, version: Math.min(e.version, now + MAX_CLOCK_SKEW_MS), bindings: e.bindings.map((b) => clampBinding(toBinding(b), now)) });
      }
      if (refused > 0) {
        this.stats.replicationRefused += refused;
        this.log.warn({ from, refused }, "sip.replicate: entries of AORs the sender does not hold were ignored");
      }
      if (notYet > 0) {
        this.stats.replicationDeferred += notYet;
        throw new LocationNotReadyError(`sip.replicate: ${notYet} entries of AORs that ${this.opts.self} does not hold in its membership view yet; push them again`);
      }
      return { ok: true };
    });
  }

  /** The caller must be a node that is a live sip_proxy member now; returns its member id. */
  requireSipProxy(peer: PeerIdentity, method: string): string {
    requireNode(peer, method);
    const id = peer.subject["CN"] ?? "";
    const live = this.opts.map()?.members.some((m) => m.id === id && m.roles.includes(ROLE)) ?? false;
    if (!live) throw new LocationRequestError(`${method} is for live sip_proxy members; ${id || "?"} is not one`);
    return id;
  }

  /** A node cut off from the cluster answers for no AOR: its view is one the others have dropped. */
  requireMember(method: string): void {
    const why = this.opts.cutOff?.();
    if (why !== undefined) throw new LocationNotReadyError(`${method}: ${this.opts.self} is cut off from the cluster (${why})`);
  }

  /** This node must hold `aor` (as the responsible node or a replica) to serve `method` for it. */
  requireHolder(aor: string, method: string): void {
    this.requireMember(method);
    const set = this.holders(aor);
    if (set.length > 0 && !set.includes(this.opts.self)) throw new LocationRequestError(`${method}: ${this.opts.self} does not hold ${aor} (its holders: ${set.join(", ")})`);
  }

  get store(): LocationStore {
    return this.opts.registrar.store;
  }

  /** A binding this node holds, by contact URI (a request sent straight to a registered contact). */
  byContact(uri: string): Binding | undefined {
    return this.store.byContact(uri, this.opts.clock.wallNow());
  }

  /** The members that hold `aor`, responsible node first. */
  holders(aor: string, map = this.opts.map()): string[] {
    return map ? pickHolders(map, aor, this.replicas) : [];
  }

  async register(aor: string, data: RegisterData): Promise<RegisterOutcome> {
    // A replica that is the edge asks the responsible node and keeps the answer as its copy: one message, not two.
    const replica = this.holders(aor).includes(this.opts.self);
    return this.viaHolders(aor, () => this.applyLocal(aor, data), "sip.register", replica ? { aor, data, replica } : { aor, data }, () => this.stats.remoteRegisters++, (v) => {
      const r = parseAnswer(registerAnswer, v, "sip.register");
      if (r.status !== 200) return r;
      const { version, ...outcome } = r;
      const bindings = r.bindings.map(toBinding);
      if (replica && version !== undefined && r.aor === aor) {
        const now = this.opts.clock.wallNow();
        if (this.accept({ aor, version: Math.min(version, now + MAX_CLOCK_SKEW_MS), bindings: bindings.map((b) => clampBinding(b, now)) })) this.stats.answeredAsReplica++;
      }
      return { ...outcome, bindings };
    }) as Promise<RegisterOutcome>;
  }

  async lookup(aor: string): Promise<Binding[]> {
    const set = this.holders(aor);
    const remote = (v: unknown) => parseAnswer(lookupAnswer, v, "sip.lookup").map(toBinding);
    if (!set.includes(this.opts.self)) return this.readViaHolders(aor, () => this.lookupHolder(aor, false), "sip.lookup", { aor }, () => this.stats.remoteLookups++, remote) as Promise<Binding[]>;
    // A holder (the responsible node or a replica) answers from its own copy: replication is pushed on every
    // change, and a holder that has not seen the AOR yet after a ring change asks the previous holders.
    const here = await this.lookupHolder(aor, false);
    if (here.length > 0 || set[0] === this.opts.self) return here;
    // A replica's copy trails the responsible node's by one push: a REGISTER answered a moment ago on another
    // node may not be here yet. On a miss a replica asks the holders before it (healthy ones, in ring order).
    return this.readViaHolders(aor, () => here, "sip.lookup", { aor, forwarded: true }, () => this.stats.replicaMissLookups++, remote) as Promise<Binding[]>;
  }

  /**
   * A holder's answer. Just after a membership change a new holder may be
   * asked before the hand-over reached it: when it has nothing, it asks the
   * nodes that may still hold the AOR (once, not further), unless it knows
   * the AOR's state already.
   */
  private async lookupHolder(aor: string, forwarded: boolean): Promise<Binding[]> {
    const here = this.lookupLocal(aor);
    const now = this.opts.map();
    // An AOR with a version here was registered, removed or handed over: its empty set is the truth.
    if (here.length > 0 || forwarded || !now || this.versions.has(aor) || this.opts.clock.wallNow() - this.changedAt > HANDOFF_GRACE_MS) return here;
    // Who may still have it: its holders before the change (unknown to a node that just joined), and
    // the current holders with one more successor (the old responsible node is usually among them).
    const wider = now.successors(ROLE, aor, this.replicas + 1).map((e) => e.id);
    const candidates = [...new Set([...(this.before ? this.holders(aor, this.before) : []), ...wider])];
    for (const id of candidates) {
      if (id === this.opts.self) continue;
      try {
        const found = parseAnswer(lookupAnswer, await this.opts.control.call(id, "sip.lookup", { aor, forwarded: true }, this.opts.callTimeoutMs ?? 1500), "sip.lookup").map(toBinding);
        if (found.length > 0) {
          this.stats.handOverLookups++;
          return found;
        }
      } catch {
        // that holder is gone: the next one, or nothing
      }
    }
    return here;
  }

  /**
   * Ask the first reachable holder of `aor` (healthy ones first, in ring
   * order); ourselves (`local`) when we are one, or when there is no ring
   * yet. Rejects when no holder answers. Also used for subscriber accounts,
   * which the same nodes hold. `answer` validates a remote holder's answer
   * (throwing when it is malformed: the next holder is asked). For changes
   * (a REGISTER, a failed flow): one holder at a time, each given up after
   * the call timeout.
   */
  viaHolders(aor: string, local: () => unknown, method: string, payload: unknown, count: () => void, answer: (v: unknown) => unknown = (v) => v): Promise<unknown> {
    return this.askHolders(aor, local, method, payload, count, answer, false);
  }

  /**
   * {@link viaHolders} for a question that changes nothing (a lookup, an
   * account): a holder that has not answered within the call timeout is not
   * given up but asked beside the next one, and the first answer wins, for
   * up to {@link HOLDER_PATIENCE} call timeouts. A holder that is alive but
   * slow (a starved machine) still answers, where giving it up would fail
   * the request with every holder alive; a dead one costs what it did.
   */
  readViaHolders(aor: string, local: () => unknown, method: string, payload: unknown, count: () => void, answer: (v: unknown) => unknown = (v) => v): Promise<unknown> {
    return this.askHolders(aor, local, method, payload, count, answer, true);
  }

  private askHolders(aor: string, local: () => unknown, method: string, payload: unknown, count: () => void, answer: (v: unknown) => unknown, hedged: boolean): Promise<unknown> {
    const set = this.holders(aor);
    if (set.length === 0 || set[0] === this.opts.self) return Promise.resolve().then(local);
    const now = this.opts.clock.wallNow();
    // Healthy holders first, in ring order; a holder that just failed is asked last.
    const order = [...set.filter((id) => (this.suspects.get(id) ?? 0) <= now), ...set.filter((id) => (this.suspects.get(id) ?? 0) > now)];
    const timeoutMs = this.opts.callTimeoutMs ?? 1500;
    const { clock } = this.opts;
    return new Promise((resolve, reject) => {
      let next = 0;
      let pending = 0;
      let settled = false;
      let lastError: unknown;
      let hedge: TimerHandle | undefined;
      const settle = (fn: () => void) => {
        settled = true;
        clock.clearTimeout(hedge);
        fn();
      };
      const ask = (): void => {
        clock.clearTimeout(hedge);
        hedge = undefined;
        if (settled) return;
        const id = order[next++];
        if (id === undefined) {
          if (pending === 0) settle(() => reject(new LocationUnavailableError(`no holder of ${aor} answered ${method} (${set.join(", ")}): ${lastError instanceof Error ? lastError.message : "no answer"}`, { cause: lastError })));
          return;
        }
        if (id === this.opts.self) return settle(() => resolve(Promise.resolve().then(local)));
        count();
        pending++;
        if (hedged && next < order.length) hedge = clock.setTimeout(ask, timeoutMs);
        this.opts.control
          .call(id, method, payload, hedged ? timeoutMs * HOLDER_PATIENCE : timeoutMs)
          .then(answer)
          .then(
            (v) => {
              pending--;
              this.suspects.delete(id);
              if (!settled) settle(() => resolve(v));
            },
            (err: unknown) => {
              pending--;
              lastError = err;
              this.stats.holderFailovers++;
              if (!this.suspects.has(id)) this.log.warn({ aor, holder: id, err: describeError(err) }, `${method}: holder unreachable, asking the next ones for ${SUSPECT_MS} ms`);
              this.suspects.set(id, clock.wallNow() + SUSPECT_MS);
              // The next holder at once (a slow one asked before may still answer first).
              ask();
            },
          );
      };
      ask();
    });
  }

  async flowFailed(aor: string, flow: FailedFlow): Promise<number> {
    const edge = flow.edge ?? this.opts.self;
    const set = this.holders(aor);
    // Only this node may say its own flow failed: a holder takes the caller's certificate as the edge.
    if (edge !== this.opts.self) throw new LocationRequestError(`flowFailed for ${edge}'s flow asked on ${this.opts.self}`);
    if (set.length === 0 || set.includes(this.opts.self)) return this.dropFlowLocal(aor, { id: flow.id, edge });
    const v = await this.viaHolders(aor, () => this.dropFlowLocal(aor, { id: flow.id, edge }), "sip.flowFailed", { aor, flowId: flow.id }, () => undefined, (a) => parseAnswer(flowFailedAnswer, a, "sip.flowFailed"));
    return typeof v === "number" ? v : (v as { removed: number }).removed;
  }

  private dropFlowLocal(aor: string, flow: FailedFlow): number {
    const removed = this.opts.registrar.dropFlow(aor, flow, this.opts.clock.wallNow());
    if (removed > 0) {
      this.stats.flowFailures += removed;
      this.versions.set(aor, Math.max((this.versions.get(aor) ?? 0) + 1, this.opts.clock.wallNow()));
      this.replicate(aor);
    }
    return removed;
  }

  /** Apply a REGISTER as a holder and push the new state to the other holders (but `answered`, which gets it in the answer). */
  private applyLocal(aor: string, data: RegisterData, answered?: string): RegisterOutcome {
    const outcome = this.opts.registrar.apply(aor, data, this.opts.clock.wallNow());
    if (outcome.status === 200) {
      const version = Math.max((this.versions.get(aor) ?? 0) + 1, this.opts.clock.wallNow());
      this.versions.set(aor, version);
      this.replicate(aor, answered);
    }
    return outcome;
  }

  private lookupLocal(aor: string): Binding[] {
    return this.store.lookup(aor, this.opts.clock.wallNow());
  }

  private entry(aor: string): ReplicaEntry {
    return { aor, version: this.versions.get(aor) ?? 0, bindings: this.lookupLocal(aor) };
  }

  /** Apply another holder's state of an AOR if it is newer than ours. */
  accept(e: ReplicaEntry): boolean {
    const mine = this.versions.get(e.aor) ?? -1;
    if (e.version <= mine) return false;
    this.versions.set(e.aor, e.version);
    this.store.replace(e.aor, e.bindings);
    this.stats.replicatedIn++;
    return true;
  }

  /**
   * Push an AOR's state to the other holders (in the background). Changes
   * made in one turn of the event loop go to each holder as one
   * `sip.replicate` call (flushed by setImmediate): under load a batch of
   * REGISTERs costs one control call per holder, not one each.
   */
  private replicate(aor: string, except?: string): void {
    for (const id of this.holders(aor)) {
      if (id === this.opts.self || id === except) continue;
      this.stats.replicatedOut++;
      let set = this.outgoing.get(id);
      if (!set) this.outgoing.set(id, (set = new Set()));
      set.add(aor);
    }
    if (this.outgoing.size > 0 && !this.flushing) {
      this.flushing = true;
      setImmediate(() => {
        this.flushing = false;
        const out = [...this.outgoing];
        this.outgoing.clear();
        if (this.stopped) return;
        for (const [id, aors] of out) {
          const list = [...aors];
          for (let i = 0; i < list.length; i += HANDOFF_BATCH) this.push(id, list.slice(i, i + HANDOFF_BATCH));
        }
      });
    }
  }

  private push(id: string, aors: string[]): void {
    const entries = aors.map((a) => this.entry(a));
    this.opts.control.call(id, "sip.replicate", { entries }, 5000).then(
      () => undefined,
      (err: unknown) => {
        if (this.stopped || !this.holders(aors[0]!).includes(id)) return;
        this.log.debug({ to: id, aors: aors.length, err: describeError(err) }, "replication failed, will retry");
        this.owe(id, aors);
      },
    );
  }

  private owe(id: string, aors: string[]): void {
    let set = this.owed.get(id);
    if (!set) this.owed.set(id, (set = new Set()));
    for (const a of aors) set.add(a);
    this.retryTimer ??= this.opts.clock.setTimeout(() => {
      this.retryTimer = undefined;
      this.retryOwed();
    }, RETRY_MS);
  }

  private retryOwed(): void {
    const owed = [...this.owed];
    this.owed.clear();
    for (const [id, aors] of owed) {
      const still = [...aors].filter((a) => this.holders(a).includes(id));
      for (let i = 0; i < still.length; i += HANDOFF_BATCH) this.push(id, still.slice(i, i + HANDOFF_BATCH));
    }
  }

  /**
   * Membership changed: push every AOR we hold to the members that newly
   * hold it, and drop the AORs we no longer hold once they are handed over.
   * Runs in the background, one hand-over at a time.
   */
  onMembership(map: RoleMap): void {
    for (const id of this.suspects.keys()) if (!map.members.some((m) => m.id === id)) this.suspects.delete(id);
    const previous = this.previous;
    this.previous = map;
    this.before = previous;
    this.changedAt = this.opts.clock.wallNow();
    this.handing = this.handing.then(() => this.handOver(previous, map)).catch((err: unknown) => this.log.error({ err: describeError(err) }, "hand-over failed"));
  }

  private async handOver(previous: RoleMap | undefined, map: RoleMap): Promise<void> {
    const now = this.opts.clock.wallNow();
    // A holder that restarted (a SIP worker its supervisor started again before the managers expired it) lost its
    // copies: it is a new holder for the hand-over.
    const restarted = previous ? restartedMembers(previous, map) : new Set<string>();
    const before = (aor: string) => (previous ? this.holders(aor, previous).filter((id) => !restarted.has(id)) : []);
    const { batches, leaving } = planHandOver([...this.store.entries(now)].map(([aor]) => aor), this.opts.self, (aor) => this.holders(aor, map), before);
    if (batches.size === 0 && leaving.length === 0) return;
    const failed = await pushBatches(
      batches,
      async (id, slice) => {
        await this.opts.control.call(id, "sip.replicate", { entries: slice.map((a) => this.entry(a)) }, 10_000);
        this.stats.handedOver += slice.length;
      },
      (id, slice, err) => {
        this.log.warn({ to: id, aors: slice.length, err: describeError(err) }, "hand-over to a new holder failed, will retry");
        this.owe(id, slice);
      },
    );
    let dropped = 0;
    for (const aor of leaving) {
      if (failed.has(aor) || this.holders(aor).includes(this.opts.self)) continue;
      this.store.removeAll(aor);
      this.versions.delete(aor);
      dropped++;
    }
    this.stats.dropped += dropped;
    this.log.info({ handedOver: [...batches].map(([id, a]) => `${id}:${a.length}`).join(" "), dropped }, "ring slices handed over");
  }

  sweep(): void {
    this.store.sweep(this.opts.clock.wallNow());
  }

  stop(): void {
    this.stopped = true;
    if (this.retryTimer) this.opts.clock.clearTimeout(this.retryTimer);
  }
}

/**
 * After a membership change: which keys (AORs) each member that newly
 * holds them must receive from us, and which keys we no longer hold.
 */
export function planHandOver(keys: Iterable<string>, self: string, next: (key: string) => string[], before: (key: string) => string[]): { batches: Map<string, string[]>; leaving: string[] } {
  const batches = new Map<string, string[]>();
  const leaving: string[] = [];
  for (const key of keys) {
    const now = next(key);
    const then = before(key);
    for (const id of now) {
      if (id === self || then.includes(id)) continue;
      let b = batches.get(id);
      if (!b) batches.set(id, (b = []));
      b.push(key);
    }
    if (now.length > 0 && !now.includes(self)) leaving.push(key);
  }
  return { batches, leaving };
}

/** Push each member's keys in slices of {@link HANDOFF_BATCH}, members in parallel; answers the keys whose push failed. */
export async function pushBatches(batches: ReadonlyMap<string, string[]>, push: (id: string, slice: string[]) => Promise<void>, onFailure: (id: string, slice: string[], err: unknown) => void): Promise<Set<string>> {
  const failed = new Set<string>();
  await Promise.all(
    [...batches].map(async ([id, keys]) => {
      for (let i = 0; i < keys.length; i += HANDOFF_BATCH) {
        const slice = keys.slice(i, i + HANDOFF_BATCH);
        try {
          await push(id, slice);
        } catch (err) {
          for (const k of slice) failed.add(k);
          onFailure(id, slice, err);
        }
      }
    }),
  );
  return failed;
}

/** Methods that change state are for nodes only, not for operator tools on the same link. */
export function requireNode(peer: PeerIdentity, method: string): void {
  if (peer.subject["OU"] !== "node") throw new LocationRequestError(`${method} is for nodes; ${peer.subject["CN"] ?? "?"} has OU=${peer.subject["OU"] ?? "none"}`);
}

/** A replicated binding expires at the latest {@link MAX_REPLICATED_EXPIRY_MS} from now. */
function clampBinding(b: Binding, now: number): Binding {
  const latest = now + MAX_REPLICATED_EXPIRY_MS;
  return b.expires > latest ? { ...b, expires: latest } : b;
}

/** Another holder's answer, validated: a malformed one is a failed call, never used. */
export function parseAnswer<T>(schema: z.ZodType<T>, value: unknown, method: string): T {
  const r = schema.safeParse(value);
  if (!r.success) throw new LocationRequestError(`invalid answer to ${method}: ${r.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ").slice(0, 300)}`);
  return r.data;
}

function parse<T>(schema: z.ZodType<T>, payload: unknown): T {
  const r = schema.safeParse(payload);
  if (!r.success) throw new LocationRequestError(`invalid request: ${r.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ")}`);
  return r.data;
}

/**
 * The holder set of `aor`: its `replicas` successors on the ring, but on
 * distinct hosts first when members advertise the host of their shared SIP
 * port (SIP_HOST_ATTR; a member without it is a host of its own). The
 * responsible node stays first; the others are the next successors on
 * hosts not yet taken, then, when there are too few hosts, the next
 * successors. Deterministic: every member computes the same set.
 */
export function pickHolders(map: RoleMap, aor: string, replicas: number): string[] {
  const first = map.successors(ROLE, aor, replicas);
  const hostOf = (e: (typeof first)[number]) => String(e.attrs[SIP_HOST_ATTR] ?? `id:${e.id}`);
  if (new Set(first.map(hostOf)).size === first.length) return first.map((e) => e.id);
  const wider = map.successors(ROLE, aor, replicas * HOST_SPREAD_WALK);
  const picked: typeof wider = [];
  const hosts = new Set<string>();
  for (const e of wider) {
    if (picked.length === replicas) break;
    if (!hosts.has(hostOf(e))) {
      picked.push(e);
      hosts.add(hostOf(e));
    }
  }
  for (const e of wider) {
    if (picked.length === replicas) break;
    if (!picked.includes(e)) picked.push(e);
  }
  return picked.map((e) => e.id);
}

/** Members of both maps whose start time changed: they restarted in between, and hold nothing. */
export function restartedMembers(previous: RoleMap, map: RoleMap): Set<string> {
  const started = new Map(previous.members.map((m) => [m.id, m.startedAt]));
  return new Set(map.members.filter((m) => started.has(m.id) && started.get(m.id) !== m.startedAt).map((m) => m.id));
}
