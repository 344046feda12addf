/**
 * Finding the event servers: a static list for labs, or DNS SRV
 * `_eventserver._tcp.<domain>` (RFC 2782) in production.
 */
import { Resolver } from "node:dns/promises";
import { isIP } from "node:net";
import { DEFAULT_EVENT_PORT } from "./options.js";
import { EventsDiscoveryError } from "./errors.js";

export interface Endpoint {
  host: string;
  port: number;
}

export function endpointKey(e: Endpoint): string {
  return e.host.includes(":") ? `[${e.host}]:${e.port}` : `${e.host}:${e.port}`;
}

/** Parse `host`, `host:port` or `[v6]:port`. */
export function parseEndpoint(text: string, defaultPort = DEFAULT_EVENT_PORT): Endpoint {
  const t = text.trim();
  const v6 = /^\[([^\]]+)\](?::(\d+))?$/.exec(t);
  if (v6) return { host: v6[1]!, port: v6[2] ? checkPort(v6[2], t) : defaultPort };
  if (isIP(t) === 6) return { host: t, port: defaultPort };
  const m = /^([^:\s]+)(?::(\d+))?$/.exec(t);
  if (!m) throw new EventsDiscoveryError(`invalid endpoint "${text}" (expected host[:port])`);
  return { host: m[1]!, port: m[2] ? checkPort(m[2], t) : defaultPort };
}

function checkPort(p: string, text: string): number {
  const n = Number(p);
  if (!Number.isInteger(n) || n < 1 || n > 65535) throw new EventsDiscoveryError(`invalid port in "${text}"`);
  return n;
}

export interface SrvDiscoveryOptions {
  domain: string;
  /** DNS servers as `ip` or `ip:port`; default: the system's. */
  dnsServers?: string[];
  timeoutMs?: number;
}

/** Resolve `_eventserver._tcp.<domain>` to endpoints, best priority first. */
export async function discoverEventServers(opts: SrvDiscoveryOptions): Promise<Endpoint[]> {
  const resolver = new Resolver({ timeout: opts.timeoutMs ?? 2000, tries: 2 });
  if (opts.dnsServers && opts.dnsServers.length > 0) resolver.setServers(opts.dnsServers);
  const name = `_eventserver._tcp.${opts.domain}`;
  let records;
  try {
    records = await resolver.resolveSrv(name);
  } catch (err) {
    throw new EventsDiscoveryError(`SRV lookup of ${name} failed: ${(err as Error).message}`, { cause: err });
  }
  records.sort((a, b) => a.priority - b.priority || b.weight - a.weight);
  const out: Endpoint[] = [];
  for (const r of records) {
    if (isIP(r.name)) {
      out.push({ host: r.name, port: r.port || DEFAULT_EVENT_PORT });
      continue;
    }
    try {
      for (const a of await resolver.resolve4(r.name)) out.push({ host: a, port: r.port || DEFAULT_EVENT_PORT });
    } catch {
      // A target without an address is skipped; the others still serve.
    }
  }
  if (out.length === 0) throw new EventsDiscoveryError(`SRV ${name} names no reachable event server`);
  return out;
}
