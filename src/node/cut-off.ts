/**
 * Whether this node is cut off: it hears no manager while the rest of the
 * cluster goes on without it (docs/sip-cluster.md, "When a node is cut off").
 *
 * A node that hears no manager for longer than `silenceMs` (the managers'
 * member timeout: by then they have expired it, if they hear the others)
 * asks up to `maxProbes` peers of its last membership, over the control
 * link, which membership they hold ({@link judgeSilence}):
 * - a peer holds a newer one: the cluster moved on without us, we are cut off;
 * - no peer answers: we reach neither the bus nor the others, cut off too;
 * - the peers answer with nothing newer: every member lost the bus alike (an
 *   event-server outage), we keep serving with the last good view, as they do;
 * - no peer in the view: a one-node network, nothing to compare, we serve.
 * A cut-off node is back as soon as a manager confirms its membership again.
 *
 * The verdict is pure ({@link judgeSilence}); {@link CutOffDetector} runs
 * the probes on a clock.
 */
import { describeError, type Clock, type Logger, type TimerHandle } from "../base/index.js";

/** A membership version as the feed holds it. */
export interface MembershipVersion {
  readonly epoch: number;
  readonly seq: number;
  readonly manager: string;
}

/** What a peer says of its membership (`node.membership` on the control link). */
export interface PeerStanding {
  /** Its applied membership, or null before its first one. */
  readonly version: MembershipVersion | null;
  /** Milliseconds since a manager last confirmed it, or null. */
  readonly heardMsAgo: number | null;
}

/** One probed peer: its answer, or undefined when it did not answer. */
export interface ProbeResult {
  readonly peer: string;
  readonly answer: PeerStanding | undefined;
}

export type SilenceVerdict = { readonly cutOff: false; readonly why: "alone" | "shared-outage" } | { readonly cutOff: true; readonly reason: string };

/** Whether `a` is a later membership than `b`: a higher term, or the same term of the same manager further on. */
export function newerVersion(a: MembershipVersion, b: MembershipVersion | undefined): boolean {
  if (!b) return true;
  return a.epoch > b.epoch || (a.epoch === b.epoch && a.manager === b.manager && a.seq > b.seq);
}

/** The verdict on a silent bus from what the probed peers said (see the module comment). */
export function judgeSilence(own: MembershipVersion | undefined, probes: readonly ProbeResult[]): SilenceVerdict {
  if (probes.length === 0) return { cutOff: false, why: "alone" };
  for (const { peer, answer } of probes) {
    const v = answer?.version;
    if (v && newerVersion(v, own)) return { cutOff: true, reason: `no manager heard, and ${peer} holds a newer membership (term ${v.epoch} seq ${v.seq} of ${v.manager})` };
  }
  if (probes.every((p) => p.answer === undefined)) return { cutOff: true, reason: `no manager heard, and none of ${probes.length} peer(s) answered` };
  return { cutOff: false, why: "shared-outage" };
}

/** Parse a `node.membership` answer; undefined when it is not one. Nothing here throws. */
export function parsePeerStanding(v: unknown): PeerStanding | undefined {
  if (typeof v !== "object" || v === null) return undefined;
  const o = v as Record<string, unknown>;
  const heard = o["heardMsAgo"];
  if (heard !== null && !(typeof heard === "number" && Number.isFinite(heard))) return undefined;
  const ver = o["version"];
  if (ver === null) return { version: null, heardMsAgo: heard };
  if (typeof ver !== "object") return undefined;
  const { epoch, seq, manager } = ver as Record<string, unknown>;
  if (!Number.isSafeInteger(epoch) || !Number.isSafeInteger(seq) || typeof manager !== "string" || manager.length > 256) return undefined;
  return { version: { epoch: epoch as number, seq: seq as number, manager }, heardMsAgo: heard };
}

/** @default 6000 ms: the managers' default member timeout (DEFAULT_MEMBER_TIMEOUT_MS). */
export const DEFAULT_CUT_OFF_MS = 6_000;
/** Peers asked per check. @default 3 */
export const DEFAULT_CUT_OFF_PROBES = 3;

export interface CutOffDetectorOptions {
  clock: Clock;
  logger: Logger;
  /** Silence of the managers after which the peers are asked. @default DEFAULT_CUT_OFF_MS */
  silenceMs?: number;
  /** How often the silence is checked (and, while silent, the peers asked). @default 1000 ms */
  checkIntervalMs?: number;
  /** @default DEFAULT_CUT_OFF_PROBES */
  maxProbes?: number;
  /** Monotonic time a manager last confirmed the membership (0: never). */
  lastConfirmedAt(): number;
  /** The applied membership's version, if any. */
  version(): MembershipVersion | undefined;
  /** The other members of the last membership that could answer (ids). */
  peers(): string[];
  /** Ask one peer (rejects when it does not answer). */
  probe(peer: string): Promise<unknown>;
}

export class CutOffDetector {
  private reason: string | undefined;
  private timer: TimerHandle | undefined;
  private probing = false;
  private next = 0;
  private stopped = false;
  /** Checks that asked peers; times this node was found cut off. */
  readonly stats = { probes: 0, cutOffs: 0 };

  constructor(private readonly opts: CutOffDetectorOptions) {}

  /** Why this node must not serve as a member now, or undefined. */
  get cutOff(): string | undefined {
    return this.reason;
  }

  start(): void {
    const tick = () => {
      void this.check().finally(() => {
        if (!this.stopped) this.timer = this.opts.clock.setTimeout(tick, this.opts.checkIntervalMs ?? 1000);
      });
    };
    this.timer = this.opts.clock.setTimeout(tick, this.opts.checkIntervalMs ?? 1000);
  }

  stop(): void {
    this.stopped = true;
    this.opts.clock.clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** One check (exposed for tests). */
  async check(): Promise<void> {
    if (this.probing) return;
    const heard = this.opts.lastConfirmedAt();
    if (heard === 0) return; // no membership yet: the roles say "starting"
    const silence = this.opts.clock.now() - heard;
    if (silence <= (this.opts.silenceMs ?? DEFAULT_CUT_OFF_MS)) {
      if (this.reason !== undefined) this.opts.logger.info({ was: this.reason }, "a manager confirms our membership again: serving as a member");
      this.reason = undefined;
      return;
    }
    const all = this.opts.peers();
    const max = Math.min(all.length, this.opts.maxProbes ?? DEFAULT_CUT_OFF_PROBES);
    const chosen = Array.from({ length: max }, (_, i) => all[(this.next + i) % all.length]!);
    this.next = all.length > 0 ? (this.next + max) % all.length : 0;
    this.probing = true;
    this.stats.probes++;
    let probes: ProbeResult[];
    try {
      probes = await Promise.all(
        chosen.map((peer) =>
          this.opts.probe(peer).then(
            (v) => ({ peer, answer: parsePeerStanding(v) }),
            (err: unknown) => {
              this.opts.logger.debug({ peer, err: describeError(err) }, "peer did not say which membership it holds");
              return { peer, answer: undefined };
            },
          ),
        ),
      );
    } finally {
      this.probing = false;
    }
    // A manager may have been heard while we asked.
    if (this.stopped || this.opts.lastConfirmedAt() !== heard) return;
    const verdict = judgeSilence(this.opts.version(), probes);
    if (verdict.cutOff) {
      if (this.reason === undefined) {
        this.stats.cutOffs++;
        this.opts.logger.warn({ silenceMs: silence, reason: verdict.reason }, "cut off from the cluster: answering clients 503 and serving no AOR until a manager is heard again");
      }
      this.reason = verdict.reason;
    } else {
      if (this.reason !== undefined) this.opts.logger.info({ why: verdict.why }, "no longer cut off: the peers lost the managers too; serving with the last membership");
      this.reason = undefined;
    }
  }
}
