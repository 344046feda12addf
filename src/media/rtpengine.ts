/**
 * The optional second engine: rtpengine (Sipwise) driven over its ng
 * control protocol (`<cookie> <bencoded dictionary>` over UDP, commands
 * offer / answer / delete / query). The relay's sessions then live in
 * rtpengine, which can forward in its kernel module; the dispatcher and the
 * control methods stay the same.
 *
 * The engine contract speaks of stream targets, rtpengine of SDP: each
 * description becomes a minimal SDP (one `m=audio` per stream with its
 * `c=`, `a=rtcp`, `a=rtcp-mux`), and rtpengine's rewritten SDP gives the
 * relayed ports back. rtpengine needs to know whether a description is an
 * offer or an answer and which tags are which: a description from the
 * other party than the pending offer's is its answer; anything else is an
 * offer (a re-INVITE from either side).
 */
import { randomBytes } from "node:crypto";
import { isIPv6 } from "node:net";
import { parse as parseSdp } from "sdp-transform";
import { describeError, systemClock, type Clock, type Logger } from "../base/index.js";
import { decodeBencode, encodeBencode, type BValue } from "./bencode-codec.js";
import type { MediaEngine } from "./engine.js";
import { RelayDrainingError, RtpengineError, SessionNotFoundError } from "./errors.js";
import type { MediaDescription, RelayStatistics } from "./relay.js";
import type { RelayedStream, SessionSummary, StreamTarget } from "./session.js";
import { openNgSocket, type NgSocket } from "./transport/ng-socket.js";

/** @default 2000 ms */
export const DEFAULT_RTPENGINE_TIMEOUT_MS = 2000;

export interface RtpengineOptions {
  /** rtpengine's `listen-ng` address. */
  host: string;
  port: number;
  logger: Logger;
  clock?: Clock;
  /** @default DEFAULT_RTPENGINE_TIMEOUT_MS */
  timeoutMs?: number;
}

/** `host:port` or `[v6]:port` → the ng address. */
export function parseNgAddress(text: string): { host: string; port: number } | undefined {
  const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d{1,5})$/.exec(text.trim());
  const port = m ? Number(m[3]) : 0;
  return m && port > 0 && port < 65536 ? { host: (m[1] ?? m[2])!, port } : undefined;
}

interface NgCall {
  tags: [string, string | undefined];
  pendingOffer: string | undefined;
  createdAt: number;
}

export class RtpengineEngine implements MediaEngine {
  readonly kind = "rtpengine";
  private socket: NgSocket | undefined;
  private readonly pending = new Map<string, { resolve(v: Record<string, BValue>): void; reject(e: Error): void; timer: NodeJS.Timeout }>();
  private readonly calls = new Map<string, NgCall>();
  private readonly clock: Clock;
  private draining = false;

  constructor(private readonly opts: RtpengineOptions) {
    this.clock = opts.clock ?? systemClock;
  }

  async start(): Promise<void> {
    this.socket = await openNgSocket(this.opts.host, (m) => this.onMessage(m));
  }

  stop(): void {
    for (const p of this.pending.values()) {
      clearTimeout(p.timer);
      p.reject(new RtpengineError("rtpengine client stopped"));
    }
    this.pending.clear();
    this.socket?.close();
    this.socket = undefined;
  }

  setDraining(draining: boolean): void {
    this.draining = draining;
  }

  async offer(d: MediaDescription): Promise<RelayedStream[]> {
    if (!this.calls.has(d.callId) && this.draining) throw new RelayDrainingError("the relay is draining and takes no new session");
    return this.describe(d);
  }

  async update(d: MediaDescription): Promise<RelayedStream[]> {
    if (!this.calls.has(d.callId)) throw new SessionNotFoundError(`no media session for call ${d.callId}`);
    return this.describe(d);
  }

  async delete(callId: string, reason = "deleted"): Promise<SessionSummary | undefined> {
    const call = this.calls.get(callId);
    if (!call) return undefined;
    const summary = await this.query(callId).catch(() => undefined);
    this.calls.delete(callId);
    await this.command({ command: "delete", "call-id": callId, "from-tag": call.tags[0] }).catch((err: unknown) => this.opts.logger.warn({ callId, reason, err: describeError(err) }, "rtpengine delete failed"));
    return summary ?? this.summary(callId, call, []);
  }

  async query(callId: string): Promise<SessionSummary | undefined> {
    const call = this.calls.get(callId);
    if (!call) return undefined;
    const r = await this.command({ command: "query", "call-id": callId });
    // Per tag, per media: the packets and bytes rtpengine received from that party.
    const tags = (typeof r["tags"] === "object" && !Array.isArray(r["tags"]) ? r["tags"] : {}) as Record<string, BValue>;
    const received = (tag: string | undefined, i: number): { packets: number; bytes: number } => {
      const medias = tag ? ((tags[tag] as Record<string, BValue> | undefined)?.["medias"] as BValue[] | undefined) : undefined;
      const stats = ((((medias?.[i] as Record<string, BValue> | undefined)?.["streams"] as BValue[] | undefined)?.[0] as Record<string, BValue> | undefined)?.["stats"] ?? {}) as Record<string, BValue>;
      return { packets: Number(stats["packets"] ?? 0), bytes: Number(stats["bytes"] ?? 0) };
    };
    const n = Math.max(...Object.values(tags).map((t) => (((t as Record<string, BValue>)["medias"] as BValue[] | undefined) ?? []).length), 0);
    return this.summary(callId, call, Array.from({ length: n }, (_, i) => [received(call.tags[0], i), received(call.tags[1], i)]));
  }

  callIds(max = 100): string[] {
    return [...this.calls.keys()].slice(0, max);
  }

  /** Sessions are counted here; packet and byte counters live in rtpengine (its own statistics). */
  statistics(): RelayStatistics {
    return { sessions: this.calls.size, streams: 0, portsInUse: 0, packetsRelayed: 0, bytesRelayed: 0, dropped: 0, draining: this.draining };
  }

  private summary(callId: string, call: NgCall, streams: Array<[{ packets: number; bytes: number }, { packets: number; bytes: number }]>): SessionSummary {
    const leg = (party: string | undefined, r: { packets: number; bytes: number }) => ({ party: party ?? null, local: "", remote: null, latched: false, received: { packets: r.packets, bytes: r.bytes, lost: 0, jitterMs: 0 }, dropped: { invalid: 0, unknownSource: 0, flood: 0, noDestination: 0 } });
    return { callId, parties: [call.tags[0], call.tags[1] ?? null], createdAt: call.createdAt, lastPacketAt: null, streams: streams.map(([a, b], index) => ({ index, legs: [leg(call.tags[0], a), leg(call.tags[1], b)] })) };
  }

  private async describe(d: MediaDescription): Promise<RelayedStream[]> {
    let call = this.calls.get(d.callId);
    const isAnswer = call !== undefined && call.pendingOffer !== undefined && call.pendingOffer !== d.tag;
    const sdp = minimalSdp(d.streams);
    let r: Record<string, BValue>;
    if (isAnswer) {
      r = await this.command({ command: "answer", "call-id": d.callId, "from-tag": call!.pendingOffer!, "to-tag": d.tag, sdp, ICE: "remove" });
      call!.pendingOffer = undefined;
      if (d.tag !== call!.tags[0]) call!.tags[1] = d.tag;
    } else {
      const other = call ? (call.tags[0] === d.tag ? call.tags[1] : call.tags[0]) : undefined;
      r = await this.command({ command: "offer", "call-id": d.callId, "from-tag": d.tag, ...(other ? { "to-tag": other } : {}), sdp, ICE: "remove", replace: ["origin", "session-connection"] });
      call ??= { tags: [d.tag, undefined], pendingOffer: undefined, createdAt: this.clock.wallNow() };
      call.pendingOffer = d.tag;
      this.calls.set(d.callId, call);
    }
    if (typeof r["sdp"] !== "string") throw new RtpengineError("rtpengine answered without SDP");
    return relayedFrom(r["sdp"], d.streams);
  }

  private command(dict: Record<string, BValue>): Promise<Record<string, BValue>> {
    const socket = this.socket;
    if (!socket) return Promise.reject(new RtpengineError("rtpengine client not started"));
    const cookie = randomBytes(8).toString("hex");
    const timeoutMs = this.opts.timeoutMs ?? DEFAULT_RTPENGINE_TIMEOUT_MS;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(cookie);
        reject(new RtpengineError(`rtpengine at ${this.opts.host}:${this.opts.port}: no answer to ${String(dict["command"])} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(cookie, { resolve, reject, timer });
      socket.send(Buffer.concat([Buffer.from(`${cookie} `), encodeBencode(dict)]), this.opts.port, this.opts.host);
    });
  }

  private onMessage(msg: Buffer): void {
    const space = msg.indexOf(0x20);
    if (space <= 0 || space > 64) return;
    const cookie = msg.subarray(0, space).toString("latin1");
    const p = this.pending.get(cookie);
    if (!p) return;
    this.pending.delete(cookie);
    clearTimeout(p.timer);
    const d = decodeBencode(msg, space + 1);
    if (!d.ok || typeof d.value !== "object" || Array.isArray(d.value)) return p.reject(new RtpengineError(`rtpengine answered an undecodable message${d.ok ? "" : ` (${d.reason} at ${d.offset})`}`));
    const result = d.value["result"];
    if (result !== "ok") return p.reject(new RtpengineError(`rtpengine answered ${String(result)}: ${String(d.value["error-reason"] ?? "")}`));
    p.resolve(d.value);
  }
}

/** One `m=audio` per stream: what rtpengine needs to allocate and latch. */
function minimalSdp(streams: readonly StreamTarget[]): string {
  const first = streams.find((s) => s.port !== 0)?.address ?? "0.0.0.0";
  const ip = (a: string) => (isIPv6(a) ? `IP6 ${a}` : `IP4 ${a}`);
  const lines = ["v=0", `o=- ${Date.now()} 1 IN ${ip(first)}`, "s=thor", `c=IN ${ip(first)}`, "t=0 0"];
  for (const s of streams) {
    lines.push(`m=audio ${s.port} RTP/AVP 0`, `c=IN ${ip(s.port === 0 ? first : s.address)}`, "a=rtpmap:0 PCMU/8000");
    if (s.rtcpPort !== undefined) lines.push(`a=rtcp:${s.rtcpPort}`);
    if (s.rtcpMux) lines.push("a=rtcp-mux");
    lines.push("a=sendrecv");
  }
  return lines.join("\r\n") + "\r\n";
}

/** The relayed address and ports of each stream, from rtpengine's rewritten SDP. */
function relayedFrom(sdp: string, streams: readonly StreamTarget[]): RelayedStream[] {
  const parsed = parseSdp(sdp);
  return streams.map((s, i) => {
    const m = parsed.media[i];
    const address = m?.connection?.ip ?? parsed.connection?.ip;
    if (!m || !address) throw new RtpengineError(`rtpengine's SDP has no stream ${i}`);
    const port = s.port === 0 ? 0 : Number(m.port);
    return { address, port, rtcpPort: port === 0 ? 0 : Number(m.rtcp?.port ?? port + 1) };
  });
}
