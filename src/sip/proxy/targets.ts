/**
 * Where a request goes next (RFC 3261 16.6 step 7 and 18.1.1, RFC 3263 in
 * its simplest form): the first Route, else the Request-URI; `maddr`,
 * `transport`, port defaults; names resolved to addresses.
 */
import { lookup } from "node:dns/promises";
import { isIP } from "node:net";
import { parseNameAddr, parseUri, type SipRequest, type SipUri } from "../message/index.js";
import type { Address, TransportName } from "../transport/index.js";

/** Where to send: `internal` marks another member's internal listener (mutual TLS). */
export type Destination = Address & { transport: TransportName; internal?: boolean };

export function uriTransport(uri: SipUri): TransportName {
  const t = (uri.params.get("transport") ?? "").toLowerCase();
  if (uri.scheme === "sips") return t === "ws" || t === "wss" ? "wss" : "tls";
  if (t === "tcp" || t === "tls" || t === "ws" || t === "wss") return t;
  return "udp";
}

/** The URI the request is sent towards: the first Route (loose routing), else the Request-URI. */
export function nextHopUri(req: SipRequest): SipUri | undefined {
  const route = req.getAll("route")[0];
  if (route) {
    const na = parseNameAddr(route);
    return na.ok && na.value.uri.kind === "sip" ? na.value.uri : undefined;
  }
  const r = parseUri(req.uri);
  return r.ok && r.uri.kind === "sip" ? r.uri : undefined;
}

export async function resolveUri(uri: SipUri): Promise<Destination | undefined> {
  const transport = uriTransport(uri);
  const host = (uri.params.get("maddr") ?? uri.host).replace(/^\[|\]$/g, "");
  const port = uri.port ?? (transport === "tls" || transport === "wss" ? 5061 : 5060);
  if (isIP(host)) return { transport, address: host, port };
  try {
    const { address } = await lookup(host);
    return { transport, address, port };
  } catch {
    return undefined;
  }
}
