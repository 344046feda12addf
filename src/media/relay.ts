/**
 * The media relay engine: sessions keyed by Call-ID, created by an offer,
 * completed by the answer, updated by later offers (re-INVITE, UPDATE),
 * removed by delete or after `inactivityMs` without a relayed packet.
 * Draining refuses new sessions and keeps the current ones to their end.
 *
 * The control surface (`offer`, `answer`, `update`, `delete`, `query`) is
 * what the role adapter serves on the control link; the engine knows
 * nothing of SIP or of the overlay.
 */
import { isIPv4, isIPv6 } from "node:net";
import { describeError, systemClock, type Clock, type Logger, type TimerHandle } from "../base/index.js";
import { sessionChannel } from "./diagnostics.js";
import { MediaRequestError, RelayCapacityError, RelayDrainingError, SessionNotFoundError } from "./errors.js";
import {
  DEFAULT_MEDIA_FLOOD_PPS,
  DEFAULT_MEDIA_INACTIVITY_MS,
  DEFAULT_MEDIA_MAX_SESSIONS,
  DEFAULT_MEDIA_MAX_STREAMS,
  DEFAULT_MEDIA_PORT_MAX,
  DEFAULT_MEDIA_PORT_MIN,
  type MediaInterface,
  type MediaRelayOptions,
} from "./options.js";
import { PortPool } from "./port-pool.js";
import { NativeLegs } from "./native-legs.js";
import { Session, type LegFactory, type RelayCounters, type RelayedStream, type RelayLeg, type SessionSummary, type StreamTarget } from "./session.js";
import { SocketLegs } from "./socket-legs.js";
import type { MediaEngine } from "./engine.js";

/** One party's description of the call's streams. */
export interface MediaDescription {
  callId: string;
  /** The tag of the party whose SDP this is (From tag of an offer in a request, To tag of an answer in a response). */
  tag: string;
  streams: StreamTarget[];
}

export interface RelayStatistics {
  sessions: number;
  streams: number;
  portsInUse: number;
  packetsRelayed: number;
  bytesRelayed: number;
  dropped: number;
  draining: boolean;
}

/** How many times a port pair that cannot be bound is skipped before giving up. */
const BIND_ATTEMPTS = 16;

export class MediaRelay implements MediaEngine {
  readonly kind = "builtin";
  /** Which data path moves the packets: the native forwarding thread, or Node sockets. */
  readonly dataPath: "native" | "js";
  private readonly legs: LegFactory;
  private readonly sessions = new Map<string, Session>();
  private readonly pool: PortPool;
  private readonly clock: Clock;
  private readonly log: Logger;
  private readonly v4: MediaInterface | undefined;
  private readonly v6: MediaInterface | undefined;
  private sweepTimer: TimerHandle | undefined;
  private draining = false;
  private stopped = false;
  /** Calls whose offer is binding ports: a retransmitted offer waits for the first one. */
  private readonly creating = new Map<string, Promise<RelayedStream[]>>();

  constructor(private readonly opts: MediaRelayOptions) {
    this.clock = opts.clock ?? systemClock;
    this.log = opts.logger;
    this.v4 = opts.interfaces.find((i) => isIPv4(i.listen));
    this.v6 = opts.interfaces.find((i) => isIPv6(i.listen));
    if (!this.v4 && !this.v6) throw new MediaRequestError("the media relay needs an IPv4 or IPv6 listen address");
    this.pool = new PortPool(opts.portMin ?? DEFAULT_MEDIA_PORT_MIN, opts.portMax ?? DEFAULT_MEDIA_PORT_MAX);
    const clock = this.clock;
    const floodPps = opts.floodPps ?? DEFAULT_MEDIA_FLOOD_PPS;
    const native = opts.dataPath === "js" ? "the JavaScript data path was asked for" : NativeLegs.create(floodPps, clock);
    if (typeof native === "string") {
      if (opts.dataPath === "native") throw new MediaRequestError(native);
      if (opts.dataPath === undefined) this.log.warn({ reason: native }, "media relay uses the JavaScript data path (about half the native one's capacity)");
      const counters: RelayCounters = { packetsRelayed: 0, bytesRelayed: 0, invalid: 0, unknownSource: 0, flood: 0, noDestination: 0 };
      this.legs = new SocketLegs({ counters, floodPps, now: () => clock.now() });
      this.dataPath = "js";
    } else {
      this.legs = native;
      this.dataPath = "native";
    }
  }

  /** Engine-wide packet counters of the data path. */
  get counters(): RelayCounters {
    return this.legs.counters();
  }

  start(): void {
    const every = Math.min(1000, Math.max(50, Math.floor((this.opts.inactivityMs ?? DEFAULT_MEDIA_INACTIVITY_MS) / 4)));
    const sweep = () => {
      this.expire();
      if (!this.stopped) this.sweepTimer = this.clock.setTimeout(sweep, every);
    };
    this.sweepTimer = this.clock.setTimeout(sweep, every);
  }

  /** Close every session and stop the expiry sweep. */
  stop(): void {
    this.stopped = true;
    this.clock.clearTimeout(this.sweepTimer);
    for (const callId of [...this.sessions.keys()]) this.remove(callId, "stopped");
    this.legs.stop();
  }

  setDraining(draining: boolean): void {
    this.draining = draining;
  }

  get isDraining(): boolean {
    return this.draining;
  }

  /** An offer: creates the session (unless draining) or updates it; returns where the other party must send. */
  async offer(d: MediaDescription): Promise<RelayedStream[]> {
    const pending = this.creating.get(d.callId);
    if (pending) {
      await pending.catch(() => undefined);
    }
    if (this.sessions.has(d.callId)) return this.describe(this.sessions.get(d.callId)!, d);
    if (this.draining) throw new RelayDrainingError("the relay is draining and takes no new session");
    if (this.sessions.size + this.creating.size >= (this.opts.maxSessions ?? DEFAULT_MEDIA_MAX_SESSIONS)) throw new RelayCapacityError(`session limit (${this.opts.maxSessions ?? DEFAULT_MEDIA_MAX_SESSIONS}) reached`);
    const session = new Session(d.callId, d.tag, this.clock.now(), this.clock.wallNow());
    const p = this.describe(session, d).then(
      (r) => {
        this.sessions.set(d.callId, session);
        sessionChannel.publish({ type: "created", callId: d.callId, summary: session.summary() });
        return r;
      },
      (err: unknown) => {
        this.release(session);
        throw err;
      },
    );
    this.creating.set(d.callId, p);
    try {
      return await p;
    } finally {
      this.creating.delete(d.callId);
    }
  }

  /** The answer or a later offer (re-INVITE, UPDATE) of an existing session. */
  async update(d: MediaDescription): Promise<RelayedStream[]> {
    const pending = this.creating.get(d.callId);
    if (pending) await pending.catch(() => undefined);
    const session = this.sessions.get(d.callId);
    if (!session) throw new SessionNotFoundError(`no media session for call ${d.callId}`);
    return this.describe(session, d);
  }

  /** Remove a session (BYE, CANCEL, failure); its final counters, or undefined when there was none. */
  delete(callId: string, reason = "deleted"): SessionSummary | undefined {
    return this.remove(callId, reason);
  }

  query(callId: string): SessionSummary | undefined {
    return this.sessions.get(callId)?.summary();
  }

  /** Call-IDs of the sessions held, at most `max`. */
  callIds(max = 100): string[] {
    const out: string[] = [];
    for (const id of this.sessions.keys()) {
      if (out.length >= max) break;
      out.push(id);
    }
    return out;
  }

  get sessionCount(): number {
    return this.sessions.size;
  }

  statistics(): RelayStatistics {
    let streams = 0;
    for (const s of this.sessions.values()) streams += s.streams.length;
    const c = this.counters;
    return {
      sessions: this.sessions.size,
      streams,
      portsInUse: this.pool.inUse * 2,
      packetsRelayed: c.packetsRelayed,
      bytesRelayed: c.bytesRelayed,
      dropped: c.invalid + c.unknownSource + c.flood + c.noDestination,
      draining: this.draining,
    };
  }

  private async describe(session: Session, d: MediaDescription): Promise<RelayedStream[]> {
    const max = this.opts.maxStreams ?? DEFAULT_MEDIA_MAX_STREAMS;
    if (d.streams.length > max) throw new MediaRequestError(`${d.streams.length} streams exceed the limit of ${max}`);
    for (const t of d.streams) {
      if (!Number.isInteger(t.port) || t.port < 0 || t.port > 65535) throw new MediaRequestError(`bad port ${t.port}`);
      if (t.port !== 0 && !isIPv4(t.address) && !isIPv6(t.address)) throw new MediaRequestError(`bad address ${t.address}`);
    }
    const side = session.side(d.tag);
    // New streams (an m= line added by this description) get their legs now.
    while (session.streams.length < d.streams.length) {
      const t = d.streams[session.streams.length]!;
      const iface = this.interfaceFor(t.address);
      const a = await this.leg(iface);
      const b = await this.leg(iface).catch((err: unknown) => {
        a.close();
        this.pool.release(a.port);
        throw err;
      });
      this.legs.link(a, b);
      session.streams.push({ legs: [a, b] });
    }
    return d.streams.map((t, i) => {
      const legs = session.streams[i]!.legs;
      legs[side].describe(t);
      // The party's peer sends to the leg facing the peer; a disabled stream stays disabled.
      const relayed = legs[side === 0 ? 1 : 0].relayed();
      return t.port === 0 ? { ...relayed, port: 0, rtcpPort: 0 } : relayed;
    });
  }

  private interfaceFor(address: string): MediaInterface {
    const iface = isIPv6(address) ? (this.v6 ?? this.v4) : (this.v4 ?? this.v6);
    return iface!;
  }

  private async leg(iface: MediaInterface): Promise<RelayLeg> {
    for (let i = 0; i < BIND_ATTEMPTS; i++) {
      const port = this.pool.take();
      if (port === undefined) break;
      const leg = await this.legs.open(iface.listen, port, iface.advertise ?? iface.listen);
      if (leg) return leg;
      // Taken by someone else: keep it out of the pool for now, try the next.
      this.log.debug({ port }, "media port pair busy, skipped");
    }
    throw new RelayCapacityError("no free media port pair");
  }

  private release(session: Session): void {
    for (const s of session.streams) for (const l of s.legs) {
      l.close();
      this.pool.release(l.port);
    }
  }

  private remove(callId: string, reason: string): SessionSummary | undefined {
    const session = this.sessions.get(callId);
    if (!session) return undefined;
    this.sessions.delete(callId);
    const summary = session.summary();
    try {
      this.release(session);
    } catch (err) {
      this.log.warn({ callId, err: describeError(err) }, "closing media ports failed");
    }
    sessionChannel.publish({ type: "ended", callId, reason, summary });
    this.log.info({ callId, reason, streams: summary.streams.length }, "media session ended");
    return summary;
  }

  /** Remove sessions that relayed nothing for `inactivityMs` (counted from creation when nothing ever flowed). */
  private expire(): void {
    const limit = this.opts.inactivityMs ?? DEFAULT_MEDIA_INACTIVITY_MS;
    const now = this.clock.now();
    for (const [callId, s] of this.sessions) {
      const last = Math.max(s.lastPacketAt(), s.createdAt);
      if (now - last > limit) this.remove(callId, "inactive");
    }
  }
}
