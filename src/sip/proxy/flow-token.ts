/**
 * Signed route tokens (RFC 5626 5.2 style flow tokens, RFC 3261 16.6 step 4
 * Record-Route): the user part of every URI this platform inserts into a
 * Record-Route, or into the Route a member uses to reach a client through
 * the node that holds its flow. The token names the client-side flows of the
 * hop (so requests coming back leave on them) and proves that the URI was
 * written by a member of this cluster, for this dialog, recently:
 *
 *     ft.<kid>.<expiry>.<refs>.<tag>
 *
 * - `kid`: id of the cluster key that signed (see base/keyring.ts);
 * - `expiry`: seconds since the epoch, base 36;
 * - `refs`: the flow references, space-separated, base64url (may be empty);
 * - `tag`: HMAC-SHA256 truncated to 16 bytes, base64url, over
 *   `kind|kid|expiry|refs|host:port|Call-ID`, where `kind` is `rr` for a
 *   Record-Route entry and `flow` for a Route to a registered client's
 *   edge, and `host:port` is the URI's own (lowercase, no brackets).
 *
 * Nothing here throws; a token that does not verify is reported, never used.
 */
import type { KeyRing } from "../../base/index.js";
import type { Flow } from "../transport/index.js";

/**
 * `c:<flow id>` for a connection, `u:<port>:<address>` for a UDP peer,
 * `d:<transport>:<port>:<address>` for a next hop reached by address (a
 * connection not open yet when the token was made).
 */
export type FlowRef = string;

export type ParsedFlowRef = { kind: "connection"; id: string } | { kind: "udp"; address: string; port: number } | { kind: "address"; transport: "tcp" | "tls" | "ws" | "wss"; address: string; port: number };

/** What a token is for: a Record-Route entry (`rr`), or the Route to a registered client's edge (`flow`). */
export type TokenKind = "rr" | "flow";

/** What a token is bound to besides its flow references. */
export interface TokenScope {
  kind: TokenKind;
  /** Host and port of the URI that carries the token. */
  host: string;
  port: number;
  /** The dialog's (or request's) Call-ID. */
  callId: string;
}

export type TokenCheck = { ok: true; kind: TokenKind; refs: FlowRef[] } | { ok: false; reason: "malformed" | "unknown-key" | "bad-tag" | "expired" };

const PREFIX = "ft.";
/** Longest token accepted (a few flow references). */
const MAX_TOKEN = 400;

export function flowRef(flow: Flow): FlowRef {
  return flow.transport === "udp" ? udpRef(flow.remote.address, flow.remote.port) : `c:${flow.id}`;
}

export function udpRef(address: string, port: number): FlowRef {
  return `u:${port}:${address}`;
}

/** A next hop reached by address over a connection-oriented transport. */
export function addressRef(transport: "tcp" | "tls" | "ws" | "wss", address: string, port: number): FlowRef {
  return `d:${transport}:${port}:${address}`;
}

export function parseFlowRef(ref: string): ParsedFlowRef | undefined {
  if (ref.startsWith("c:") && ref.length > 2) return { kind: "connection", id: ref.slice(2) };
  const d = /^d:(tcp|tls|ws|wss):(\d{1,5}):([0-9A-Fa-f.:]+)$/.exec(ref);
  if (d) {
    const port = Number(d[2]);
    return port > 0 && port <= 65535 ? { kind: "address", transport: d[1] as "tcp" | "tls" | "ws" | "wss", address: d[3]!, port } : undefined;
  }
  const m = /^u:(\d{1,5}):([0-9A-Fa-f.:]+)$/.exec(ref);
  if (!m) return undefined;
  const port = Number(m[1]);
  return port > 0 && port <= 65535 ? { kind: "udp", address: m[2]!, port } : undefined;
}

/** Whether a URI user part is a route token (valid or not). */
export function isFlowToken(user: string | undefined): boolean {
  return user !== undefined && user.startsWith(PREFIX);
}

/** The URI user part naming `refs`, signed with the ring's newest key, valid until `expiresSec`. */
export function encodeFlowToken(keys: KeyRing, refs: readonly FlowRef[], scope: TokenScope, expiresSec: number): string {
  const exp = Math.ceil(expiresSec).toString(36);
  const payload = refs.length > 0 ? Buffer.from(refs.join(" "), "utf8").toString("base64url") : "";
  const { kid, tag } = keys.sign(signedText(scope.kind, keys.currentId, exp, payload, scope));
  return `${PREFIX}${kid}.${exp}.${payload}.${tag}`;
}

/**
 * Verify the token in a URI user part against the URI and request it came
 * with; the result says which kind it was signed as.
 */
export function decodeFlowToken(keys: KeyRing, user: string, scope: Omit<TokenScope, "kind">, nowSec: number): TokenCheck {
  if (!user.startsWith(PREFIX) || user.length > MAX_TOKEN) return { ok: false, reason: "malformed" };
  const parts = user.slice(PREFIX.length).split(".");
  if (parts.length !== 4) return { ok: false, reason: "malformed" };
  const [kid, exp, payload, tag] = parts as [string, string, string, string];
  if (!/^[a-z0-9]{1,16}$/.test(kid) || !/^[0-9a-z]{1,8}$/.test(exp) || !/^[A-Za-z0-9_-]*$/.test(payload)) return { ok: false, reason: "malformed" };
  let kind: TokenKind | undefined;
  for (const k of ["rr", "flow"] as const) {
    if (keys.verify(kid, signedText(k, kid, exp, payload, scope), tag)) {
      kind = k;
      break;
    }
  }
  if (kind === undefined) return { ok: false, reason: keys.ids().includes(kid) ? "bad-tag" : "unknown-key" };
  if (parseInt(exp, 36) < nowSec) return { ok: false, reason: "expired" };
  const refs = payload === "" ? [] : Buffer.from(payload, "base64url").toString("utf8").split(" ");
  if (refs.some((r) => parseFlowRef(r) === undefined)) return { ok: false, reason: "malformed" };
  return { ok: true, kind, refs };
}

function signedText(kind: TokenKind, kid: string, exp: string, payload: string, scope: Omit<TokenScope, "kind">): string {
  return `${kind}|${kid}|${exp}|${payload}|${scopeHost(scope.host)}:${scope.port}|${scope.callId}`;
}

/** Host as compared: lowercase, without IPv6 brackets or a trailing dot. */
function scopeHost(host: string): string {
  return host.replace(/^\[|\]$/g, "").replace(/\.$/, "").toLowerCase();
}
