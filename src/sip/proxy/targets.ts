/**
 * Where a request goes next (RFC 3261 16.6 step 7 and 18.1.1, RFC 3263
 * 4.1 and 4.2, RFC 7118 6): the first Route, else the Request-URI, then
 * the transport, port and addresses of that URI:
 *   - a numeric host or an explicit port: the address records of the host
 *     (transport from `transport=`, else UDP, TLS for sips);
 *   - an explicit transport without a port: the SRV records of that
 *     transport, else the address records on the default port;
 *   - neither: the NAPTR records of the host (SIP+D2U, SIP+D2T, SIPS+D2T,
 *     SIP+D2W, SIPS+D2W; by order, then preference), each leading to SRV
 *     records; without NAPTR records, SRV queries for UDP, TCP and TLS
 *     (sips: TLS only); without those, the address records on 5060/5061.
 * SRV records are ordered by priority and, within a priority, by a
 * weighted random draw (RFC 2782); a target of "." means no service.
 * Lookups never throw: a failed or empty answer counts as no record.
 */
import { promises as dns } from "node:dns";
import { isIP } from "node:net";
import { parseNameAddr, parseUri, type SipRequest, type SipUri } from "../message/index.js";
import type { Address, TransportName } from "../transport/index.js";

export type Destination = Address & {
  transport: TransportName;
  /** The domain the peer's certificate must name (RFC 5922), when the URI held a name. */
  servername?: string;
  /** Another member's internal listener (mutual TLS with the node certificates). */
  internal?: boolean;
  /** A client's UDP flow (its NAT binding): sent from the socket the client talks to (a shared one first). */
  clientFlow?: boolean;
};

export interface NaptrAnswer {
  flags: string;
  service: string;
  regexp: string;
  replacement: string;
  order: number;
  preference: number;
}

export interface SrvAnswer {
  name: string;
  port: number;
  priority: number;
  weight: number;
}

/** The DNS queries RFC 3263 needs. Implementations return [] for "no such record". */
export interface SipResolver {
  naptr(name: string): Promise<NaptrAnswer[]>;
  srv(name: string): Promise<SrvAnswer[]>;
  /** IPv4 then IPv6 addresses of a name. */
  addresses(name: string): Promise<string[]>;
}

const none = <T>(): T[] => [];

/**
 * A resolver on the system's DNS configuration (names from the hosts file
 * too), or on the given servers (`ip` or `ip:port`) only.
 */
export function systemResolver(servers?: readonly string[]): SipResolver {
  if (servers && servers.length > 0) {
    const r = new dns.Resolver({ timeout: 2000, tries: 2 });
    r.setServers([...servers]);
    return {
      naptr: (name) => r.resolveNaptr(name).catch(none<NaptrAnswer>),
      srv: (name) => r.resolveSrv(name).catch(none<SrvAnswer>),
      addresses: async (name) => [...(await r.resolve4(name).catch(none<string>)), ...(await r.resolve6(name).catch(none<string>))],
    };
  }
  return {
    naptr: (name) => dns.resolveNaptr(name).catch(none<NaptrAnswer>),
    srv: (name) => dns.resolveSrv(name).catch(none<SrvAnswer>),
    addresses: async (name) => {
      const all = await dns.lookup(name, { all: true }).catch(none<{ address: string; family: number }>);
      return [...all.filter((a) => a.family === 4), ...all.filter((a) => a.family === 6)].map((a) => a.address);
    },
  };
}

const NAPTR_SERVICES: Readonly<Record<string, TransportName>> = {
  "SIP+D2U": "udp",
  "SIP+D2T": "tcp",
  "SIPS+D2T": "tls",
  "SIP+D2W": "ws",
  "SIPS+D2W": "wss",
};

const SRV_PREFIX: Readonly<Record<TransportName, string>> = {
  udp: "_sip._udp",
  tcp: "_sip._tcp",
  tls: "_sips._tcp",
  ws: "_sip._ws",
  wss: "_sips._ws",
};

const secure = (t: TransportName) => t === "tls" || t === "wss";
const defaultPort = (t: TransportName) => (secure(t) ? 5061 : 5060);

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

export interface ResolveOptions {
  resolver?: SipResolver;
  /** Transports we can send on, in our order of preference. @default udp, tcp, tls, ws, wss */
  transports?: readonly TransportName[];
  /** For the weighted SRV draw. @default Math.random */
  random?: () => number;
}

const ALL: readonly TransportName[] = ["udp", "tcp", "tls", "ws", "wss"];
let defaultResolver: SipResolver | undefined;

/** RFC 2782 ordering: by priority, and within one priority a weighted random draw. */
export function orderSrv(records: readonly SrvAnswer[], random: () => number = Math.random): SrvAnswer[] {
  const out: SrvAnswer[] = [];
  const priorities = [...new Set(records.map((r) => r.priority))].sort((a, b) => a - b);
  for (const p of priorities) {
    const pool = records.filter((r) => r.priority === p);
    // Zero-weight records first, as RFC 2782 asks, so they have a small chance when others weigh in.
    pool.sort((a, b) => (a.weight === 0 ? 0 : 1) - (b.weight === 0 ? 0 : 1));
    while (pool.length > 0) {
      const total = pool.reduce((s, r) => s + r.weight, 0);
      const draw = random() * (total + 1);
      let sum = 0;
      let i = pool.findIndex((r) => (sum += r.weight) >= draw);
      if (i < 0) i = pool.length - 1;
      out.push(pool.splice(i, 1)[0]!);
    }
  }
  return out;
}

async function fromSrv(resolver: SipResolver, name: string, transport: TransportName, servername: string, random: () => number): Promise<Destination[]> {
  const records = (await resolver.srv(name)).filter((r) => r.name !== "" && r.name !== ".");
  const out: Destination[] = [];
  for (const r of orderSrv(records, random)) {
    for (const address of await resolver.addresses(r.name)) out.push({ transport, address, port: r.port, servername });
  }
  return out;
}

/** Every destination for a URI, best first (RFC 3263 4); [] when nothing resolves. */
export async function resolveTargets(uri: SipUri, opts: ResolveOptions = {}): Promise<Destination[]> {
  const resolver = opts.resolver ?? (defaultResolver ??= systemResolver());
  const random = opts.random ?? Math.random;
  const usable = (t: TransportName) => (opts.transports ?? ALL).includes(t) && (uri.scheme !== "sips" || secure(t));
  const explicit = uri.params.get("transport") !== undefined ? uriTransport(uri) : undefined;
  const host = (uri.params.get("maddr") ?? uri.host).replace(/^\[|\]$/g, "");
  const servername = host.toLowerCase();
  if (isIP(host)) {
    const transport = explicit ?? uriTransport(uri);
    return usable(transport) ? [{ transport, address: host, port: uri.port ?? defaultPort(transport) }] : [];
  }
  const byAddress = async (transport: TransportName, port: number): Promise<Destination[]> =>
    usable(transport) ? (await resolver.addresses(host)).map((address) => ({ transport, address, port, servername })) : [];
  if (uri.port !== undefined) {
    const transport = explicit ?? uriTransport(uri);
    return byAddress(transport, uri.port);
  }
  if (explicit) {
    if (!usable(explicit)) return [];
    const srv = await fromSrv(resolver, `${SRV_PREFIX[explicit]}.${host}`, explicit, servername, random);
    return srv.length > 0 ? srv : byAddress(explicit, defaultPort(explicit));
  }
  const naptr = (await resolver.naptr(host))
    .filter((r) => r.flags.toLowerCase() === "s" && NAPTR_SERVICES[r.service.toUpperCase()] !== undefined && usable(NAPTR_SERVICES[r.service.toUpperCase()]!))
    .sort((a, b) => a.order - b.order || a.preference - b.preference);
  if (naptr.length > 0) {
    const out: Destination[] = [];
    for (const r of naptr) out.push(...(await fromSrv(resolver, r.replacement, NAPTR_SERVICES[r.service.toUpperCase()]!, servername, random)));
    return out;
  }
  for (const t of (opts.transports ?? ALL).filter((x) => usable(x) && x !== "ws" && x !== "wss")) {
    const srv = await fromSrv(resolver, `${SRV_PREFIX[t]}.${host}`, t, servername, random);
    if (srv.length > 0) return srv;
  }
  const fallback = uriTransport(uri);
  return byAddress(fallback, defaultPort(fallback));
}

/** The first destination for a URI (see {@link resolveTargets}). */
export async function resolveUri(uri: SipUri, opts: ResolveOptions = {}): Promise<Destination | undefined> {
  return (await resolveTargets(uri, opts))[0];
}
