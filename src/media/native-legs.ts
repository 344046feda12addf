/**
 * The relay's native data path: legs whose packets the forwarding thread
 * of native/media-forwarder moves (recvmmsg/sendmmsg, latching, flood
 * limit and receiver statistics in C, the same rules as `Leg`). The
 * control plane (sessions, ports, SDP, expiry) stays in `MediaRelay`.
 */
import type { Clock } from "../base/index.js";
import type { LegFactory, LegSummary, RelayCounters, RelayedStream, RelayLeg, StreamTarget } from "./session.js";
import { loadNativeForwarder, type NativeEngineHandle, type NativeForwarder } from "./transport/native-forwarder.js";

const round2 = (x: number) => Math.round(x * 100) / 100;

class NativeLeg implements RelayLeg {
  private closed = false;

  constructor(
    private readonly addon: NativeForwarder,
    private readonly engine: NativeEngineHandle,
    readonly index: number,
    readonly port: number,
    private readonly advertise: string,
    private readonly clock: Clock,
  ) {}

  describe(t: StreamTarget): void {
    const disabled = t.port === 0 || t.address === "0.0.0.0" || t.address === "::";
    this.addon.describe(this.engine, this.index, disabled ? null : t.address, t.port, t.rtcpPort ?? t.port + 1, t.rtcpMux === true, t.clockRate ?? 0);
  }

  relayed(): RelayedStream {
    return { address: this.advertise, port: this.port, rtcpPort: this.port + 1 };
  }

  lastPacketAt(): number {
    if (this.closed) return 0;
    const idle = this.addon.idleMs(this.engine, this.index);
    return idle < 0 ? 0 : this.clock.now() - idle;
  }

  summary(party: string | undefined): LegSummary {
    const local = this.advertise.includes(":") ? `[${this.advertise}]:${this.port}` : `${this.advertise}:${this.port}`;
    const dropped = { invalid: 0, unknownSource: 0, flood: 0, noDestination: 0 };
    if (this.closed) return { party: party ?? null, local, remote: null, latched: false, received: { packets: 0, bytes: 0, lost: 0, jitterMs: 0 }, dropped };
    const i = this.addon.legInfo(this.engine, this.index);
    const received: LegSummary["received"] = { packets: i.packets, bytes: i.bytes, lost: i.lost, jitterMs: round2(i.jitterMs) };
    if (i.reportedLoss !== undefined) received.reportedLoss = i.reportedLoss;
    if (i.reportedJitterMs !== undefined) received.reportedJitterMs = round2(i.reportedJitterMs);
    return {
      party: party ?? null,
      local,
      remote: i.remote,
      latched: i.latched,
      received,
      dropped: { invalid: i.invalid, unknownSource: i.unknownSource, flood: i.flood, noDestination: i.noDestination },
    };
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.addon.closeLeg(this.engine, this.index);
  }
}

export class NativeLegs implements LegFactory {
  readonly kind = "native";
  private stopped = false;

  private constructor(
    private readonly addon: NativeForwarder,
    private readonly engine: NativeEngineHandle,
    private readonly clock: Clock,
  ) {}

  /** The native data path with its forwarding thread started, or why it is not available. */
  static create(floodPps: number, clock: Clock): NativeLegs | string {
    const addon = loadNativeForwarder();
    if (typeof addon === "string") return addon;
    return new NativeLegs(addon, addon.createEngine(floodPps), clock);
  }

  open(listen: string, port: number, advertise: string): Promise<RelayLeg | undefined> {
    if (this.stopped) return Promise.resolve(undefined);
    const index = this.addon.openPair(this.engine, listen, port);
    return Promise.resolve(index < 0 ? undefined : new NativeLeg(this.addon, this.engine, index, port, advertise, this.clock));
  }

  link(a: RelayLeg, b: RelayLeg): void {
    if (!(a instanceof NativeLeg) || !(b instanceof NativeLeg)) throw new TypeError("native legs link only with native legs");
    this.addon.link(this.engine, a.index, b.index);
  }

  counters(): RelayCounters {
    return this.addon.counters(this.engine);
  }

  /** Stops the forwarding thread and closes every socket it still holds. */
  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.addon.stop(this.engine);
  }
}
