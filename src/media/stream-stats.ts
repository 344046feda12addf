/**
 * Receiver statistics of one RTP source as seen by the relay: packets,
 * bytes, loss from the sequence numbers (RFC 3550 A.1, A.3) and
 * interarrival jitter from the timestamps (RFC 3550 A.8), plus what the
 * peer's own RTCP reports say. Pure: the arrival time is an input.
 */
import { rtpSequence, rtpSsrc, rtpTimestamp, type RtcpReport } from "./rtp-codec.js";

/** RFC 3550 A.1: a jump of more than this many sequence numbers is a restart, not loss. */
const MAX_DROPOUT = 3000;
/** RFC 3550 A.1: sequence numbers this far behind are misordered (or duplicates). */
const MAX_MISORDER = 100;
const SEQ_MOD = 0x10000;

/** A snapshot of one direction's counters (JSON-safe). */
export interface StreamCounters {
  packets: number;
  bytes: number;
  /** Packets expected from the sequence numbers minus packets received (never below 0). */
  lost: number;
  /** RFC 3550 A.8 interarrival jitter, in milliseconds. */
  jitterMs: number;
  /** The latest RTCP report's fraction lost (0..1) and jitter (ms) about the stream the peer receives, if any. */
  reportedLoss?: number;
  reportedJitterMs?: number;
}

export class ReceiverStats {
  packets = 0;
  bytes = 0;
  private ssrc = -1;
  private baseSeq = 0;
  private maxSeq = 0;
  private cycles = 0;
  private received = 0;
  private transit = 0;
  private jitter = 0;
  private reported: RtcpReport | undefined;

  /** @param clockRate RTP timestamp units per second (8000 for G.711). */
  constructor(private clockRate = 8000) {}

  setClockRate(rate: number): void {
    if (rate > 0) this.clockRate = rate;
  }

  /** Account one RTP packet that arrived at `arrivalMs` (any monotonic origin). */
  onRtp(p: Uint8Array, arrivalMs: number): void {
    this.packets++;
    this.bytes += p.length;
    const seq = rtpSequence(p);
    const ssrc = rtpSsrc(p);
    const arrival = (arrivalMs * this.clockRate) / 1000;
    const transit = arrival - rtpTimestamp(p);
    if (ssrc !== this.ssrc) {
      // A new source (first packet, or the sender restarted): start its sequence afresh.
      this.ssrc = ssrc;
      this.baseSeq = seq;
      this.maxSeq = seq;
      this.cycles = 0;
      this.received = 1;
      this.transit = transit;
      return;
    }
    const delta = (seq - this.maxSeq + SEQ_MOD) % SEQ_MOD;
    if (delta > 0 && delta < MAX_DROPOUT) {
      if (seq < this.maxSeq) this.cycles += SEQ_MOD;
      this.maxSeq = seq;
    } else if (delta === 0 || SEQ_MOD - delta <= MAX_MISORDER) {
      // duplicate or misordered: counted as received, the highest sequence stays
    } else {
      // A very large jump: the sender restarted its sequence (RFC 3550 A.1); rebase.
      this.baseSeq = seq;
      this.maxSeq = seq;
      this.cycles = 0;
      this.received = 0;
    }
    this.received++;
    // RFC 3550 A.8: J += (|D| - J) / 16.
    const d = Math.abs(transit - this.transit);
    this.transit = transit;
    this.jitter += (d - this.jitter) / 16;
  }

  /** Account an RTCP packet (its bytes) and the report it carries about the stream its sender receives. */
  onRtcp(bytes: number, report: RtcpReport | undefined): void {
    this.bytes += bytes;
    if (report) this.reported = report;
  }

  get lost(): number {
    if (this.ssrc < 0) return 0;
    const expected = this.cycles + this.maxSeq - this.baseSeq + 1;
    return Math.max(0, expected - this.received);
  }

  get jitterMs(): number {
    return (this.jitter * 1000) / this.clockRate;
  }

  snapshot(): StreamCounters {
    const s: StreamCounters = { packets: this.packets, bytes: this.bytes, lost: this.lost, jitterMs: Math.round(this.jitterMs * 100) / 100 };
    if (this.reported) {
      s.reportedLoss = this.reported.fractionLost;
      s.reportedJitterMs = Math.round(((this.reported.jitter * 1000) / this.clockRate) * 100) / 100;
    }
    return s;
  }
}
