/**
 * The media dispatcher of a sip_proxy node: a proxy plugin (sip/pipeline,
 * a forward-phase interceptor through pluginInterceptor) that puts a media relay in the path of the calls it handles.
 *
 * - Which calls: those whose initial INVITE this node received from a
 *   client (not from another member: the edge node handles the call's
 *   media), and, with the `nat` policy, only when a side looks NATed (a
 *   private address in SDP or Contact, an SDP address other than the one
 *   the request came from, or a callee registered from another address
 *   than its Contact's).
 * - Which relay: random among the live `media_relay` members that are not
 *   draining (not the ring: relays are not key-partitioned), sticky for
 *   the call, the next one on error or timeout; a relay that failed is
 *   passed over for `penaltyMs`.
 * - What: `media.offer` with the offer's streams, `media.answer` with the
 *   answer's (183, 2xx), `media.update` for re-INVITE/UPDATE (and the
 *   ACK's answer to a late offer), `media.delete` on BYE and on a failed
 *   initial INVITE (CANCEL included); each SDP is rewritten to the relay's
 *   address and ports (media-sdp.ts).
 * - WebRTC calls (DTLS-SRTP: see webrtcReason in media-sdp.ts) are not
 *   relayed, by policy: their offer and everything after it pass
 *   untouched (counted as `mediaWebrtc`); ICE is their NAT traversal.
 * - When no relay answers, the call goes on without one (logged, counted):
 *   media may then fail behind NAT, but signalling is never blocked by the
 *   media plane.
 */
import { describeError, type Clock, type Logger, type TimerHandle } from "../base/index.js";
import { relayedStreamsSchema, type RelayedStream, type StreamTarget } from "../media/index.js";
import type { RoleMap } from "../overlay/index.js";
import type { ForwardContext, ProxyPlugin, RequestVerdict, SipRequest, SipResponse } from "../sip/index.js";
import { isPrivateAddress, readSdp, rewriteSdp, webrtcReason } from "./media-sdp.js";

/** When calls get a relay: every call with SDP, or only when a side looks NATed. */
export type NatPolicy = "always" | "nat";

/** @default "always" */
export const DEFAULT_NAT_POLICY: NatPolicy = "always";
/** @default 1000 ms: one relay's time to answer before the next is tried. */
export const DEFAULT_RELAY_TIMEOUT_MS = 1000;
/** @default 30 s: a relay that failed is passed over this long. */
export const DEFAULT_RELAY_PENALTY_MS = 30_000;
/** @default 100000: calls tracked at most (beyond, new calls go without a relay). */
export const DEFAULT_MAX_CALLS = 100_000;
/** @default 4 h: a call with no signalling for this long is forgotten (the relay expires it on inactivity). */
export const DEFAULT_CALL_IDLE_MS = 4 * 3600_000;

export interface MediaDispatcherOptions {
  logger: Logger;
  clock: Clock;
  /** @default DEFAULT_NAT_POLICY */
  policy?: NatPolicy;
  /** The current membership. */
  map(): RoleMap | undefined;
  /** A control-link call to a member. */
  call(member: string, method: string, payload: unknown, timeoutMs: number): Promise<unknown>;
  /** @default DEFAULT_RELAY_TIMEOUT_MS */
  timeoutMs?: number;
  /** @default DEFAULT_RELAY_PENALTY_MS */
  penaltyMs?: number;
  /** @default DEFAULT_MAX_CALLS */
  maxCalls?: number;
  /** @default Math.random */
  random?: () => number;
}

interface CallState {
  /** Undefined until the offer is known (an INVITE without SDP: the offer comes in the 2xx). */
  relay: string | undefined;
  lastUsed: number;
}

export interface DispatcherStats {
  mediaCalls: number;
  mediaOffers: number;
  mediaAnswers: number;
  mediaRelayFailures: number;
  mediaUnrelayed: number;
  mediaBadSdp: number;
  /** Calls not relayed because their offer is WebRTC's (ICE / DTLS-SRTP): they pass untouched. */
  mediaWebrtc: number;
}

export class MediaDispatcher implements ProxyPlugin {
  readonly stats: DispatcherStats = { mediaCalls: 0, mediaOffers: 0, mediaAnswers: 0, mediaRelayFailures: 0, mediaUnrelayed: 0, mediaBadSdp: 0, mediaWebrtc: 0 };
  /** The methods it relays media for: the others pass the pipeline untouched. */
  readonly methods: ReadonlySet<string> = new Set(["INVITE", "UPDATE", "BYE"]);
  private readonly calls = new Map<string, CallState>();
  private readonly penalty = new Map<string, number>();
  private readonly log: Logger;
  private readonly clock: Clock;
  private sweepTimer: TimerHandle | undefined;
  private stopped = false;

  constructor(private readonly opts: MediaDispatcherOptions) {
    this.log = opts.logger;
    this.clock = opts.clock;
  }

  start(): void {
    const sweep = () => {
      const now = this.clock.now();
      for (const [id, c] of this.calls) if (now - c.lastUsed > DEFAULT_CALL_IDLE_MS) this.calls.delete(id);
      if (!this.stopped) this.sweepTimer = this.clock.setTimeout(sweep, 60_000);
    };
    this.sweepTimer = this.clock.setTimeout(sweep, 60_000);
  }

  stop(): void {
    this.stopped = true;
    this.clock.clearTimeout(this.sweepTimer);
  }

  /** The relay a call uses (tests, diagnostics). */
  relayOf(callId: string): string | undefined {
    return this.calls.get(callId)?.relay;
  }

  get activeCalls(): number {
    return this.calls.size;
  }

  /** Live relays, active (not draining) and not recently failed. */
  relays(): string[] {
    const now = this.clock.now();
    return (this.opts.map()?.members ?? [])
      .filter((m) => m.roles.includes("media_relay") && m.attrs["draining"] !== true && m.ports["control"] !== undefined && (this.penalty.get(m.id) ?? 0) <= now)
      .map((m) => m.id);
  }

  async onRequest(ctx: ForwardContext): Promise<RequestVerdict> {
    const req = ctx.request;
    const callId = req.callId;
    const state = this.calls.get(callId);
    if (req.method === "BYE") {
      if (state) this.end(callId, state, "bye");
      return undefined;
    }
    if (req.method !== "INVITE" && req.method !== "UPDATE") return undefined;
    const initial = req.method === "INVITE" && req.to?.params.get("tag") === undefined;
    const fromTag = req.from?.params.get("tag");
    if (!fromTag || (!state && (!initial || ctx.source.fromMember))) return undefined;
    let call = state;
    if (req.body.length > 0) {
      const sdp = readSdp(req.body.toString("utf8"));
      if (!sdp.ok) {
        this.stats.mediaBadSdp++;
        this.log.info({ callId, reason: sdp.reason }, "SDP not relayed");
        return undefined;
      }
      if (!call) {
        const webrtc = webrtcReason(sdp.sdp);
        if (webrtc !== undefined) {
          this.stats.mediaWebrtc++;
          this.log.debug({ callId, reason: webrtc }, "WebRTC offer: not relayed (policy), passed untouched");
          return undefined;
        }
        if (!this.wanted(ctx, sdp.streams, req)) return undefined;
        if (this.calls.size >= (this.opts.maxCalls ?? DEFAULT_MAX_CALLS)) {
          this.stats.mediaUnrelayed++;
          return undefined;
        }
        call = { relay: undefined, lastUsed: this.clock.now() };
      }
      if (!ctx.source.fromMember) substituteSource(sdp.streams, ctx.source.address);
      const relayed = await this.describe(callId, call, fromTag, sdp.streams, call.relay === undefined ? "media.offer" : "media.update");
      if (!relayed) return state ? this.handler(callId, initial) : undefined;
      this.stats.mediaOffers++;
      req.body = Buffer.from(rewriteSdp(sdp.sdp, relayed));
      if (!state) this.track(callId, call);
    } else if (!call) {
      // An INVITE without SDP: the 2xx makes the offer, the ACK answers it.
      if (!this.wanted(ctx, [], req)) return undefined;
      call = { relay: undefined, lastUsed: this.clock.now() };
      this.track(callId, call);
    }
    return this.handler(callId, initial);
  }

  /** The ACK's SDP answers an offer made in the 2xx (RFC 3264 with an INVITE without SDP). */
  async onAck(ctx: ForwardContext): Promise<void> {
    const req = ctx.request;
    const call = this.calls.get(req.callId);
    const tag = req.from?.params.get("tag");
    if (!call?.relay || !tag || req.body.length === 0) return;
    const sdp = readSdp(req.body.toString("utf8"));
    if (!sdp.ok) return void this.stats.mediaBadSdp++;
    const relayed = await this.describe(req.callId, call, tag, sdp.streams, "media.answer");
    if (relayed) req.body = Buffer.from(rewriteSdp(sdp.sdp, relayed));
  }

  private handler(callId: string, initial: boolean): RequestVerdict {
    return {
      onResponse: async (res: SipResponse) => {
        const call = this.calls.get(callId);
        const tag = res.to?.params.get("tag");
        if (!call || !tag || res.status < 180 || res.status >= 300 || res.body.length === 0) return;
        const sdp = readSdp(res.body.toString("utf8"));
        if (!sdp.ok) return void this.stats.mediaBadSdp++;
        // A late offer (INVITE without SDP) made by a WebRTC endpoint: the call is not relayed (policy).
        if (call.relay === undefined && webrtcReason(sdp.sdp) !== undefined) {
          this.stats.mediaWebrtc++;
          this.calls.delete(callId);
          return;
        }
        const relayed = await this.describe(callId, call, tag, sdp.streams, call.relay === undefined ? "media.offer" : "media.answer");
        if (!relayed) return;
        this.stats.mediaAnswers++;
        res.body = Buffer.from(rewriteSdp(sdp.sdp, relayed));
      },
      onComplete: (status: number) => {
        const call = this.calls.get(callId);
        // A failed initial INVITE (rejected, cancelled, timed out) ends the call; a failed re-INVITE does not.
        if (initial && call && status >= 300) this.end(callId, call, status === 487 ? "cancel" : `failure ${status}`);
      },
    };
  }

  private track(callId: string, call: CallState): void {
    this.calls.set(callId, call);
    this.stats.mediaCalls++;
  }

  private end(callId: string, call: CallState, reason: string): void {
    this.calls.delete(callId);
    if (!call.relay) return;
    const timeout = this.opts.timeoutMs ?? DEFAULT_RELAY_TIMEOUT_MS;
    this.opts.call(call.relay, "media.delete", { callId, reason }, timeout).catch((err: unknown) => this.log.warn({ callId, relay: call.relay, err: describeError(err) }, "media.delete failed (the relay expires the session on inactivity)"));
  }

  /**
   * Describe one party's streams to the call's relay; a call without a
   * relay yet (or whose relay fails) is offered to the live relays in
   * random order until one accepts. Undefined when none does.
   */
  private async describe(callId: string, call: CallState, tag: string, streams: StreamTarget[], method: "media.offer" | "media.answer" | "media.update"): Promise<RelayedStream[] | undefined> {
    call.lastUsed = this.clock.now();
    const timeout = this.opts.timeoutMs ?? DEFAULT_RELAY_TIMEOUT_MS;
    const payload = { callId, tag, streams };
    if (call.relay) {
      try {
        return relayedStreamsSchema.parse(await this.opts.call(call.relay, method, payload, timeout)).streams;
      } catch (err) {
        this.fail(call.relay, method, err);
        // The relay is gone (or lost the call): the call moves to another one with this description as the offer.
      }
    }
    const tried = new Set(call.relay ? [call.relay] : []);
    for (const relay of this.shuffle(this.relays().filter((r) => !tried.has(r)))) {
      try {
        const r = relayedStreamsSchema.parse(await this.opts.call(relay, "media.offer", payload, timeout)).streams;
        call.relay = relay;
        return r;
      } catch (err) {
        this.fail(relay, "media.offer", err);
      }
    }
    this.stats.mediaUnrelayed++;
    if (tried.size > 0 || this.relays().length > 0) this.log.warn({ callId }, "no media relay answered; the call goes on without one");
    return undefined;
  }

  private fail(relay: string, method: string, err: unknown): void {
    this.stats.mediaRelayFailures++;
    this.penalty.set(relay, this.clock.now() + (this.opts.penaltyMs ?? DEFAULT_RELAY_PENALTY_MS));
    this.log.warn({ relay, method, err: describeError(err) }, "media relay failed, trying the next");
  }

  private shuffle(ids: string[]): string[] {
    const rnd = this.opts.random ?? Math.random;
    for (let i = ids.length - 1; i > 0; i--) {
      const j = Math.floor(rnd() * (i + 1));
      [ids[i], ids[j]] = [ids[j]!, ids[i]!];
    }
    return ids;
  }

  /** The NAT policy: always, or when the caller or a callee looks NATed. */
  private wanted(ctx: ForwardContext, streams: readonly StreamTarget[], req: SipRequest): boolean {
    if ((this.opts.policy ?? DEFAULT_NAT_POLICY) === "always") return true;
    const src = ctx.source.address;
    if (streams.some((s) => s.port !== 0 && (isPrivateAddress(s.address) || s.address !== src))) return true;
    const contactHost = /<?sips?:(?:[^@>;]*@)?\[?([^\]>;:]+)/i.exec(req.get("contact") ?? "")?.[1];
    if (contactHost && (isPrivateAddress(contactHost) || contactHost !== src)) return true;
    return ctx.targets.some((t) => {
      const host = /^sips?:(?:[^@;]*@)?\[?([^\]>;:]+)/i.exec(t.uri)?.[1];
      return t.registeredFrom !== undefined && host !== undefined && (isPrivateAddress(host) || host !== t.registeredFrom);
    });
  }
}

/**
 * A client behind NAT describes its private address, which the relay
 * cannot reach (nor should it send there): its streams are addressed to
 * where its request came from instead, with the ports it gave, until the
 * relay latches to its real source (RFC 3581-style symmetric response,
 * applied to media).
 */
function substituteSource(streams: StreamTarget[], source: string): void {
  for (const s of streams) if (s.port !== 0 && s.address !== source && isPrivateAddress(s.address)) s.address = source;
}
