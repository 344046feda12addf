/**
 * SDP for the media dispatcher (RFC 4566, RFC 3264): what a party's
 * description says about where it receives each stream, and the same
 * description rewritten to send that party's peer to the relay. Pure, on
 * top of `sdp-transform` (a parser and writer kept by the mediasoup
 * authors; it keeps every attribute it does not model as `invalid` lines,
 * so a rewrite changes only what it means to).
 *
 * Rewritten: the session and media `c=` lines (the relay's address), the
 * `m=` ports (the relay's ports; 0 stays 0), `a=rtcp` (the relay's RTCP
 * port and address), and ICE (`a=candidate`, `a=ice-*`,
 * `a=end-of-candidates`, `a=remote-candidates`, `a=ice-lite` removed: the
 * relay is the only path). Kept: everything else (codecs, directions,
 * crypto, BUNDLE groups and mids, rtcp-mux, ...). The `o=` version is
 * left alone: a rewrite is the same description seen through the relay,
 * and the relay's answer to a repeated description is the same.
 */
import { isIPv4, isIPv6 } from "node:net";
import { parse, write, type SessionDescription } from "sdp-transform";
import type { RelayedStream, StreamTarget } from "../media/index.js";

/** @default 16 KiB: a larger body is not an SDP we relay (it is passed on untouched and counted). */
export const MAX_SDP_BYTES = 16 * 1024;
/** @default 8: m= lines at most. */
export const MAX_SDP_STREAMS = 8;

export type SdpRead = { ok: true; sdp: SessionDescription; streams: StreamTarget[] } | { ok: false; reason: string };

/** Where the described party receives each stream, or why the body cannot be relayed. Never throws. */
export function readSdp(body: string): SdpRead {
  if (body.length > MAX_SDP_BYTES) return { ok: false, reason: `SDP of ${body.length} bytes exceeds ${MAX_SDP_BYTES}` };
  let sdp: SessionDescription;
  try {
    sdp = parse(body);
  } catch (err) {
    return { ok: false, reason: `unparsable SDP: ${err instanceof Error ? err.message : String(err)}` };
  }
  if (!Array.isArray(sdp.media) || sdp.media.length === 0) return { ok: false, reason: "SDP without media" };
  if (sdp.media.length > MAX_SDP_STREAMS) return { ok: false, reason: `${sdp.media.length} m= lines exceed ${MAX_SDP_STREAMS}` };
  const streams: StreamTarget[] = [];
  for (const m of sdp.media) {
    const address = m.connection?.ip ?? sdp.connection?.ip;
    const port = Number(m.port);
    if (!Number.isInteger(port) || port < 0 || port > 65535) return { ok: false, reason: `bad m= port ${String(m.port)}` };
    if (port !== 0 && (address === undefined || (!isIPv4(address) && !isIPv6(address)))) return { ok: false, reason: `m=${m.type} has no usable c= address (${address ?? "none"})` };
    const t: StreamTarget = { address: address ?? "0.0.0.0", port };
    if (m.rtcp?.port !== undefined && Number.isInteger(Number(m.rtcp.port))) t.rtcpPort = Number(m.rtcp.port);
    if (m.rtcpMux !== undefined) t.rtcpMux = true;
    const first = m.rtp?.[0];
    if (first?.rate) t.clockRate = first.rate;
    streams.push(t);
  }
  return { ok: true, sdp, streams };
}

/**
 * Why a description is WebRTC's, which the relay leaves alone, or
 * undefined. A WebRTC endpoint (RFC 8829/8834) keys SRTP over DTLS
 * (RFC 5763) on the path its ICE (RFC 8445) found: a relay that rewrote the
 * addresses and removed ICE (as for a plain RTP phone) would leave the
 * browser a description it refuses, and one that forwarded its packets
 * without terminating ICE and DTLS would break the connectivity checks and
 * consent. DTLS-SRTP is what marks it: a DTLS fingerprint (`a=fingerprint`)
 * or a `UDP/TLS/...` profile anywhere in the description means pass
 * untouched (docs/media.md, "WebRTC"). ICE alone does not: phones such as
 * Linphone offer ICE with plain RTP and are relayed as before (their ICE
 * removed, which they fall back from).
 */
export function webrtcReason(sdp: SessionDescription): string | undefined {
  const session = sdp as { fingerprint?: unknown };
  if (session.fingerprint !== undefined || sdp.media.some((m) => m.fingerprint !== undefined)) return "DTLS-SRTP fingerprint";
  if (sdp.media.some((m) => /UDP\/TLS|DTLS/i.test(m.protocol))) return "DTLS-SRTP profile";
  return undefined;
}

/** Whether an address is one a NAT hides: RFC 1918, RFC 6598 shared space, link-local, IPv6 ULA or link-local. */
export function isPrivateAddress(address: string): boolean {
  if (isIPv4(address)) {
    const [a, b] = address.split(".").map(Number) as [number, number];
    return a === 10 || (a === 172 && b >= 16 && b <= 31) || (a === 192 && b === 168) || (a === 100 && b >= 64 && b <= 127) || (a === 169 && b === 254);
  }
  if (isIPv6(address)) {
    const first = address.toLowerCase();
    return first.startsWith("fc") || first.startsWith("fd") || first.startsWith("fe80");
  }
  return false;
}

/** `sdp` with each stream sent to the relay (`relayed[i]` for m= line i); ICE removed. */
export function rewriteSdp(sdp: SessionDescription, relayed: readonly RelayedStream[]): string {
  const out = structuredClone(sdp);
  const first = relayed.find((r) => r.port !== 0) ?? relayed[0];
  const ipVer = (a: string) => (isIPv6(a) ? 6 : 4);
  if (first) out.connection = { version: ipVer(first.address), ip: first.address };
  delete out.icelite;
  out.media.forEach((m, i) => {
    const r = relayed[i];
    if (!r) return;
    m.port = r.port;
    if (m.connection || r.address !== first?.address) m.connection = { version: ipVer(r.address), ip: r.address };
    if (m.rtcp) m.rtcp = { port: r.rtcpPort, netType: "IN", ipVer: ipVer(r.address), address: r.address };
    delete m.candidates;
    delete m.iceUfrag;
    delete m.icePwd;
    delete m.iceOptions;
    delete m.endOfCandidates;
    delete m.remoteCandidates;
  });
  delete (out as { iceUfrag?: string }).iceUfrag;
  delete (out as { icePwd?: string }).icePwd;
  delete (out as { iceOptions?: string }).iceOptions;
  return write(out);
}
