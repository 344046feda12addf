/**
 * What names this node in SIP messages, written and recognised: our
 * domains and listeners (is a URI ours?), our Via (16.6 step 8, with a
 * branch that lets loop detection recognise a request, 16.3 step 4), our
 * signed Record-Route entries and Routes to an edge (16.6 step 4, RFC
 * 5658), and the removal of our own Route entries from a request (16.4).
 */
import { createHash } from "node:crypto";
import type { Clock, KeyRing } from "../../base/index.js";
import { canonicalHost, parseNameAddr, parseUri, type SipRequest, type SipUri } from "../message/index.js";
import { MAGIC_COOKIE } from "../transaction/index.js";
import type { SipTransport, TransportName } from "../transport/index.js";
import { decodeFlowToken, encodeFlowToken, isFlowToken, type FlowRef, type TokenKind } from "./flow-token.js";
import { RECORD_ROUTE_TOKEN_TTL_S } from "./options.js";

/** One side of a hop: its transport, and whether it is the internal (member-to-member) listener. */
export interface Leg {
  transport: TransportName;
  internal: boolean;
}

/** What our own Route entries told (16.4). */
export interface OwnRoutes {
  /** The flow references their tokens carried. */
  hints: FlowRef[];
  /** One was a Record-Route token of ours for this Call-ID: proof of a dialog we record-routed. */
  dialog: boolean;
  /** Why a token did not verify (the request is then refused, its Route never used). */
  forged: string | undefined;
}

export class OwnUris {
  readonly domains: ReadonlySet<string>;

  constructor(
    private readonly transport: SipTransport,
    private readonly keys: KeyRing,
    private readonly clock: Clock,
    domains: readonly string[],
  ) {
    this.domains = new Set(domains.map(canonicalHost));
  }

  /** Whether a URI names us: one of our domains or one of our listening addresses. */
  isLocal(uri: SipUri): boolean {
    const host = canonicalHost(uri.host.replace(/^\[|\]$/g, ""));
    if (this.domains.has(host)) return true;
    return this.transport.bound().some((l) => (l.advertise ?? l.host) === host && (uri.port === undefined || uri.port === l.boundPort));
  }

  /** Whether `text` is `sip:host:port` of one of our listeners (no user part, explicit port). */
  namesListener(text: string): boolean {
    const p = parseUri(text);
    if (!p.ok || p.uri.kind !== "sip" || p.uri.user !== undefined || p.uri.port === undefined) return false;
    const { host, port } = p.uri;
    const bare = host.replace(/^\[|\]$/g, "");
    return this.transport.bound().some((l) => (l.advertise ?? l.host) === bare && port === l.boundPort);
  }

  /**
   * RFC 3261 16.4: remove the Route entries that name us, keeping what
   * their tokens say. The Route list is split once and written back once
   * (linear in the message, whatever the number of entries).
   */
  popOwnRoutes(req: SipRequest): OwnRoutes {
    const hints: FlowRef[] = [];
    let dialog = false;
    let forged: string | undefined;
    const nowSec = this.clock.wallNow() / 1000;
    const routes = req.getAll("route");
    let ours = 0;
    for (const route of routes) {
      const na = parseNameAddr(route);
      if (!na.ok || na.value.uri.kind !== "sip" || !this.isLocal(na.value.uri)) break;
      const uri = na.value.uri;
      if (isFlowToken(uri.user)) {
        const v = decodeFlowToken(this.keys, uri.user!, { host: uri.host, port: uri.port ?? 0, callId: req.callId }, nowSec);
        if (!v.ok) {
          forged = v.reason;
          break;
        }
        hints.push(...v.refs);
        dialog = true;
      }
      ours++;
    }
    if (ours === routes.length && ours > 0) req.remove("route");
    else if (ours > 0) req.set("route", routes.slice(ours).join(", "));
    return { hints, dialog, forged };
  }

  /** Verify the token a strict router left in the Request-URI (16.4). */
  verifyToken(user: string, uri: SipUri, callId: string): ReturnType<typeof decodeFlowToken> {
    return decodeFlowToken(this.keys, user, { host: uri.host, port: uri.port ?? 0, callId }, this.clock.wallNow() / 1000);
  }

  /** `<sip:TOKEN@host:port;...;lr>`: a URI of ours carrying a signed token for `refs`. */
  signedUri(kind: TokenKind, at: { host: string; port: number }, refs: readonly FlowRef[], callId: string, expiresSec: number, params: string): string {
    const user = encodeFlowToken(this.keys, refs, { kind, host: at.host, port: at.port, callId }, expiresSec);
    return `<sip:${user}@${at.host}:${at.port}${params};lr>`;
  }

  /**
   * Our Record-Route entries (RFC 5658: two when the request changes
   * transport, or crosses between a client and the internal listener),
   * each carrying in its user part a token signed for this dialog (Call-ID)
   * that names the client-side flows of this hop, so in-dialog requests
   * coming back prove they belong to the dialog and leave on those flows.
   */
  recordRoute(inbound: Leg, outbound: Leg, refs: readonly FlowRef[], callId: string): string[] {
    const expires = this.clock.wallNow() / 1000 + RECORD_ROUTE_TOKEN_TTL_S;
    const rr = (leg: Leg) => {
      const l = leg.internal ? this.transport.localInternal() : this.transport.local(leg.transport);
      return l ? this.signedUri("rr", l, refs, callId, expires, `;transport=${leg.transport}`) : undefined;
    };
    const a = rr(inbound);
    if (inbound.transport === outbound.transport && inbound.internal === outbound.internal) return a ? [a] : [];
    const b = rr(outbound);
    return [b, a].filter((x): x is string => x !== undefined);
  }

  /** Our Via for a request leaving over `transport` (the internal listener's when `internal`). */
  via(transport: TransportName, branch: string, internal = false): string | undefined {
    const local = internal ? this.transport.localInternal() : this.transport.local(transport, "via");
    if (!local) return undefined;
    return `SIP/2.0/${transport.toUpperCase()} ${local.host}:${local.port};branch=${branch};rport`;
  }

  /** RFC 3261 16.6 step 8: a branch that lets loop detection recognise this request. */
  branchId(req: SipRequest): string {
    return `${MAGIC_COOKIE}-t${loopHash(req)}-${Math.random().toString(36).slice(2, 10)}`;
  }

  /** The branch of a stateless ACK: the same for its retransmissions. */
  ackBranch(req: SipRequest): string {
    return `${MAGIC_COOKIE}-a${createHash("sha1").update(req.vias[0] ?? "").digest("base64url").slice(0, 16)}`;
  }

  /** RFC 3261 16.3 step 4: the request went through us before, unchanged (a Via of ours with its loop hash). */
  looped(req: SipRequest): boolean {
    const vias = req.vias;
    if (vias.length < 2) return false;
    const locals = this.transport.bound();
    let probe: string | undefined; // hashed only when a Via of ours is there (never for a first hop)
    for (const v of vias.slice(1)) {
      const m = /branch=z9hG4bK-(t[A-Za-z0-9_-]{10})-/i.exec(v);
      if (!m || !locals.some((l) => v.includes(`${l.advertise ?? l.host}:${l.boundPort}`))) continue;
      probe ??= `t${loopHash(req)}`;
      if (m[1] === probe) return true;
    }
    return false;
  }
}

function loopHash(req: SipRequest): string {
  return createHash("sha1").update(`${req.uri}|${req.from?.params.get("tag") ?? ""}|${req.to?.params.get("tag") ?? ""}|${req.callId}|${req.cseq.seq}|${req.getAll("route")[0] ?? ""}`).digest("base64url").slice(0, 10);
}
