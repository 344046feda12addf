/**
 * A relayed call: its two parties (the tags of the dialog's ends) and, per
 * media stream (m= line), one leg facing each party. A leg is an RTP/RTCP
 * port pair on the relay: it receives what its party sends and sends to
 * its party what the other party sent.
 *
 * Symmetric latching: a leg sends to the address its party described in
 * SDP until the party's first valid packet arrives; from then on it sends
 * to that packet's source (the NAT's public mapping) and accepts packets
 * from that source only. A new description with another address or port
 * (re-INVITE, new ports) unlatches the leg. Bad input (not RTP/RTCP, an
 * unknown source after latching, more than the flood limit) is dropped and
 * counted; a packet is only ever sent to the other party's latched or
 * described address, never to a third one.
 */
import type { RemoteInfo } from "node:dgram";
import { classifyPacket, PacketKind, rtcpFirstReport } from "./rtp-codec.js";
import { ReceiverStats, type StreamCounters } from "./stream-stats.js";
import type { UdpSocket } from "./transport/udp-pair.js";

/** Where a party receives one stream, as its SDP says. Port 0: the stream is disabled. */
export interface StreamTarget {
  address: string;
  port: number;
  /** a=rtcp (RFC 3605). @default port + 1 */
  rtcpPort?: number;
  /** a=rtcp-mux (RFC 5761): RTCP on the RTP port. */
  rtcpMux?: boolean;
  /** RTP clock rate of the first codec, for jitter in ms. @default 8000 */
  clockRate?: number;
}

/** The relay's side of one stream towards a party: what to write into the SDP that party's peer receives. */
export interface RelayedStream {
  address: string;
  port: number;
  rtcpPort: number;
}

/** Dropped packets of a leg, by reason. */
export interface DropCounters {
  /** Not RTP/RTCP (wrong version, too short, bad header). */
  invalid: number;
  /** From another source than the latched one. */
  unknownSource: number;
  /** Over the flood limit. */
  flood: number;
  /** Nowhere to send: the other party has not described the stream, or disabled it. */
  noDestination: number;
}

export interface LegSummary {
  party: string | null;
  local: string;
  /** Where the relay sends to this party: the latched source, else the SDP address. */
  remote: string | null;
  latched: boolean;
  received: StreamCounters;
  dropped: DropCounters;
}

export interface SessionSummary {
  callId: string;
  parties: [string, string | null];
  createdAt: number;
  lastPacketAt: number | null;
  streams: Array<{ index: number; legs: [LegSummary, LegSummary] }>;
}

/** Engine-wide counters the legs add to (one object, shared; no per-packet allocation). */
export interface RelayCounters {
  packetsRelayed: number;
  bytesRelayed: number;
  invalid: number;
  unknownSource: number;
  flood: number;
  noDestination: number;
}

/** What the JavaScript legs share with their engine. */
export interface LegEnvironment {
  readonly counters: RelayCounters;
  readonly floodPps: number;
  now(): number;
}

function endpoint(address: string, port: number): string {
  return address.includes(":") ? `[${address}]:${port}` : `${address}:${port}`;
}

/**
 * One leg as the relay's control plane sees it, whichever data path moves
 * its packets: `Leg` here (Node sockets) or `NativeLeg`
 * (native/media-forwarder, the forwarding thread).
 */
export interface RelayLeg {
  readonly port: number;
  /** The party described where it receives: a changed address or port unlatches the leg. */
  describe(t: StreamTarget): void;
  /** Where the other party must send to reach this leg's party. */
  relayed(): RelayedStream;
  /** When this leg last admitted a packet, on the relay's clock (0: never). */
  lastPacketAt(): number;
  summary(party: string | undefined): LegSummary;
  close(): void;
}

/** Opens and pairs legs: one per data path. */
export interface LegFactory {
  /** A leg on `listen:port` (RTP) and `port + 1` (RTCP), or undefined when either port is taken. */
  open(listen: string, port: number, advertise: string): Promise<RelayLeg | undefined>;
  /** Make `a` and `b` each other's peer: what one receives goes to the other's party. */
  link(a: RelayLeg, b: RelayLeg): void;
  /** Engine-wide counters of this data path. */
  counters(): RelayCounters;
  stop(): void;
}

/** The data path in Node: one dgram socket per port, packets handled in JavaScript. */
export class Leg implements RelayLeg {
  peer!: Leg;
  readonly stats = new ReceiverStats();
  readonly dropped: DropCounters = { invalid: 0, unknownSource: 0, flood: 0, noDestination: 0 };
  private sdpAddress: string | undefined;
  private sdpPort = 0;
  private sdpRtcpPort = 0;
  private rtcpMux = false;
  private latchedAddress: string | undefined;
  private latchedPort = 0;
  private latchedRtcpAddress: string | undefined;
  private latchedRtcpPort = 0;
  private windowStart = 0;
  private windowCount = 0;
  private lastAt = 0;

  constructor(
    readonly rtp: UdpSocket,
    readonly rtcp: UdpSocket,
    readonly port: number,
    readonly advertise: string,
    private readonly env: LegEnvironment,
  ) {
    rtp.on("message", (msg: Buffer, from: RemoteInfo) => this.onRtpPort(msg, from));
    rtcp.on("message", (msg: Buffer, from: RemoteInfo) => this.onRtcpPort(msg, from));
    rtp.on("error", () => undefined);
    rtcp.on("error", () => undefined);
  }

  /** The party described where it receives: a changed address or port unlatches the leg. */
  describe(t: StreamTarget): void {
    const disabled = t.port === 0 || t.address === "0.0.0.0" || t.address === "::";
    const address = disabled ? undefined : t.address;
    if (address !== this.sdpAddress || t.port !== this.sdpPort) {
      this.latchedAddress = undefined;
      this.latchedRtcpAddress = undefined;
    }
    this.sdpAddress = address;
    this.sdpPort = t.port;
    this.sdpRtcpPort = t.rtcpPort ?? t.port + 1;
    this.rtcpMux = t.rtcpMux === true;
    if (t.clockRate) this.stats.setClockRate(t.clockRate);
  }

  get latched(): boolean {
    return this.latchedAddress !== undefined;
  }

  lastPacketAt(): number {
    return this.lastAt;
  }

  relayed(): RelayedStream {
    return { address: this.advertise, port: this.port, rtcpPort: this.port + 1 };
  }

  close(): void {
    this.rtp.close();
    this.rtcp.close();
  }

  /**
   * The source check, then the flood check; latches on the first valid
   * packet. Packets from unknown sources are dropped before they count
   * against the flood limit, so a stranger spraying a leg's port cannot
   * push its party's packets over the limit. Returns whether to go on.
   */
  private admit(from: RemoteInfo, rtcp: boolean): boolean {
    if (rtcp) {
      if (this.latchedRtcpAddress === undefined) {
        // RTCP latches on its own port, but only from the host RTP latched to (once it has).
        if (this.latchedAddress !== undefined && from.address !== this.latchedAddress) return this.unknown();
        this.latchedRtcpAddress = from.address;
        this.latchedRtcpPort = from.port;
      } else if (from.address !== this.latchedRtcpAddress || from.port !== this.latchedRtcpPort) return this.unknown();
    } else if (this.latchedAddress === undefined) {
      this.latchedAddress = from.address;
      this.latchedPort = from.port;
    } else if (from.address !== this.latchedAddress || from.port !== this.latchedPort) return this.unknown();
    const now = this.env.now();
    const second = Math.floor(now / 1000);
    if (second !== this.windowStart) {
      this.windowStart = second;
      this.windowCount = 0;
    }
    if (++this.windowCount > this.env.floodPps) {
      this.dropped.flood++;
      this.env.counters.flood++;
      return false;
    }
    this.lastAt = now;
    return true;
  }

  private unknown(): false {
    this.dropped.unknownSource++;
    this.env.counters.unknownSource++;
    return false;
  }

  private invalid(): void {
    this.dropped.invalid++;
    this.env.counters.invalid++;
  }

  private onRtpPort(msg: Buffer, from: RemoteInfo): void {
    const kind = classifyPacket(msg);
    if (kind === PacketKind.Invalid) return this.invalid();
    if (kind === PacketKind.Rtcp) {
      // RFC 5761: RTCP multiplexed on the RTP port; it latches with RTP.
      if (!this.admit(from, false)) return;
      this.stats.onRtcp(msg.length, rtcpFirstReport(msg));
      return this.peer.sendRtcp(msg);
    }
    if (!this.admit(from, false)) return;
    this.stats.onRtp(msg, this.lastAt);
    this.peer.sendRtp(msg);
  }

  private onRtcpPort(msg: Buffer, from: RemoteInfo): void {
    if (classifyPacket(msg) !== PacketKind.Rtcp) return this.invalid();
    if (!this.admit(from, true)) return;
    this.stats.onRtcp(msg.length, rtcpFirstReport(msg));
    this.peer.sendRtcp(msg);
  }

  /** Send RTP to this leg's party. */
  private sendRtp(msg: Buffer): void {
    const address = this.latchedAddress ?? this.sdpAddress;
    if (address === undefined) return this.nowhere();
    this.rtp.send(msg, this.latchedAddress !== undefined ? this.latchedPort : this.sdpPort, address);
    this.env.counters.packetsRelayed++;
    this.env.counters.bytesRelayed += msg.length;
  }

  /** Send RTCP to this leg's party: on its RTP port when it multiplexes, else on its RTCP port. */
  private sendRtcp(msg: Buffer): void {
    if (this.rtcpMux) return this.sendRtp(msg);
    const latched = this.latchedRtcpAddress !== undefined;
    const address = latched ? this.latchedRtcpAddress : this.latchedAddress ?? this.sdpAddress;
    if (address === undefined) return this.nowhere();
    this.rtcp.send(msg, latched ? this.latchedRtcpPort : this.sdpRtcpPort, address);
    this.env.counters.packetsRelayed++;
    this.env.counters.bytesRelayed += msg.length;
  }

  private nowhere(): void {
    this.peer.dropped.noDestination++;
    this.env.counters.noDestination++;
  }

  summary(party: string | undefined): LegSummary {
    const remote = this.latchedAddress !== undefined ? endpoint(this.latchedAddress, this.latchedPort) : this.sdpAddress !== undefined ? endpoint(this.sdpAddress, this.sdpPort) : null;
    return { party: party ?? null, local: endpoint(this.advertise, this.port), remote, latched: this.latched, received: this.stats.snapshot(), dropped: { ...this.dropped } };
  }
}

/** One m= line: leg 0 faces the caller (party A), leg 1 the callee (party B). */
export interface Stream {
  legs: [RelayLeg, RelayLeg];
}

export class Session {
  readonly parties: [string, string | undefined];
  readonly streams: Stream[] = [];

  constructor(
    readonly callId: string,
    caller: string,
    readonly createdAt: number,
    readonly createdAtWall: number,
  ) {
    this.parties = [caller, undefined];
  }

  /** The side (0 caller, 1 callee) of `tag`, binding the callee's tag on its first description; a new callee tag (another fork) takes the place of the old one. */
  side(tag: string): 0 | 1 {
    if (tag === this.parties[0]) return 0;
    this.parties[1] = tag;
    return 1;
  }

  lastPacketAt(): number {
    let t = 0;
    for (const s of this.streams) for (const l of s.legs) t = Math.max(t, l.lastPacketAt());
    return t;
  }

  close(): void {
    for (const s of this.streams) for (const l of s.legs) l.close();
  }

  summary(): SessionSummary {
    const last = this.lastPacketAt();
    return {
      callId: this.callId,
      parties: [this.parties[0], this.parties[1] ?? null],
      createdAt: this.createdAtWall,
      lastPacketAt: last === 0 ? null : Math.round(this.createdAtWall + (last - this.createdAt)),
      streams: this.streams.map((s, index) => ({ index, legs: [s.legs[0].summary(this.parties[0]), s.legs[1].summary(this.parties[1])] })),
    };
  }
}
