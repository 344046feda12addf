/**
 * The zones `thor dns` serves, derived from a membership (pure, no I/O).
 *
 * For each platform domain (the origin) and the live members of a snapshot:
 * - apex: SOA, NS, one NAPTR per SIP transport some `sip_proxy` member offers
 *   (RFC 3263 4.1, RFC 7118 for WebSocket), and A/AAAA of the `sip_proxy`
 *   members listening on 5060 (the RFC 3263 4.2 fallback without SRV);
 * - `_sip._udp`, `_sip._tcp`, `_sips._tcp`, `_sip._ws`, `_sips._ws`: SRV of
 *   the `sip_proxy` members advertising `sip_udp`, `sip_tcp`, `sip_tls`,
 *   `sip_ws`, `sip_wss`;
 * - `_eventserver._tcp`: SRV of the configured event servers (bootstrap);
 * - one SRV RRset per configured {@link ServiceRecord} (XCAP, provisioning,
 *   lookup);
 * - `<member>.<origin>`: A or AAAA of every member named by an SRV record.
 *
 * Members with `attrs.draining === true` are left out everywhere: a drained
 * node stops being handed out while it still serves its current clients.
 */
import { isIP } from "node:net";
import dnsPacket, { type Answer, type RecordType, type SoaAnswer } from "dns-packet";
import type { Entity } from "../overlay/index.js";
import { canonicalName, hostLabel, inZone, isValidName, parentName } from "./names.js";
import { DnsConfigError } from "./errors.js";
import type { WireRR } from "./message-codec.js";
import { DEFAULT_NEGATIVE_TTL, DEFAULT_SERVICES, DEFAULT_TTL, DEFAULT_ZONE_TTL, SIP_ROLE, SIP_TRANSPORTS, type ServiceRecord } from "./options.js";

/** A record set. `shared` sets are load-shared: answers carry a random slice. */
export interface RRSet {
  readonly type: RecordType;
  readonly records: readonly Answer[];
  /** `records`, encoded, in the same order. */
  readonly wire: readonly WireRR[];
  readonly shared: boolean;
}

/**
 * Encode one record with its owner name, once when the zone is built (by
 * dns-packet, uncompressed). `nameLength` bytes of owner name come first, so
 * an answer can replace the owner with a pointer to the question.
 */
export function encodeRR(rr: Answer): WireRR {
  const packet = dnsPacket.encode({ type: "response", answers: [rr] });
  const owner = rr.name.replace(/^\.|\.$/g, "");
  return { wire: packet.subarray(12), nameLength: owner === "" ? 1 : Buffer.byteLength(owner) + 2 };
}

export interface ZoneNode {
  readonly name: string;
  readonly sets: ReadonlyMap<RecordType, RRSet>;
}

export interface NameServer {
  /** Absolute name, e.g. `ns1.example.com`. */
  name: string;
  /** Glue address when the name is inside the zone. */
  ip?: string;
}

export interface EventServerTarget {
  host: string;
  port: number;
}

export interface ZoneConfig {
  /** The platform domain served, e.g. `example.com`. */
  origin: string;
  /** NS records; at least one. */
  nameservers: readonly NameServer[];
  /** Published as `_eventserver._tcp.<origin>` SRV. */
  eventServers?: readonly EventServerTarget[];
  /** @default DEFAULT_SERVICES */
  services?: readonly ServiceRecord[];
  /** @default DEFAULT_TTL */
  ttl?: number;
  /** @default DEFAULT_ZONE_TTL */
  zoneTtl?: number;
  /** @default DEFAULT_NEGATIVE_TTL */
  negativeTtl?: number;
  /** SOA RNAME. @default `hostmaster.<origin>` */
  hostmaster?: string;
}

/** One built zone: its nodes by canonical name and every existing name (with empty non-terminals). */
export class Zone {
  /** Use {@link Zone.build}. */
  constructor(
    readonly origin: string,
    readonly serial: number,
    readonly nodes: ReadonlyMap<string, ZoneNode>,
    private readonly names: ReadonlySet<string>,
    readonly negativeTtl: number,
  ) {
    const soa = this.soa;
    this.negativeSoa = encodeRR({ ...soa, ttl: Math.min(soa.ttl ?? 0, negativeTtl) });
  }

  /** The SOA for the authority section of NXDOMAIN/NODATA, TTL capped by MINIMUM (RFC 2308 3). */
  readonly negativeSoa: WireRR;

  /** True when the (canonical) name exists, even as an empty non-terminal (RFC 8020). */
  exists(name: string): boolean {
    return this.names.has(name);
  }

  node(name: string): ZoneNode | undefined {
    return this.nodes.get(name);
  }

  get soa(): SoaAnswer {
    return this.nodes.get(this.origin)!.sets.get("SOA")!.records[0] as SoaAnswer;
  }

  recordCount(): number {
    let n = 0;
    for (const node of this.nodes.values()) for (const set of node.sets.values()) n += set.records.length;
    return n;
  }

  static build(config: ZoneConfig, members: readonly Entity[], serial: number): Zone {
    const origin = canonicalName(config.origin);
    const ttl = config.ttl ?? DEFAULT_TTL;
    const zoneTtl = config.zoneTtl ?? DEFAULT_ZONE_TTL;
    const negativeTtl = config.negativeTtl ?? DEFAULT_NEGATIVE_TTL;
    const b = new ZoneBuilder(origin);
    const abs = (rel: string) => `${rel}.${origin}`;

    // SOA and NS (RFC 1035 3.3.13, 3.3.11); glue for in-zone name servers.
    const ns = config.nameservers.map((s) => ({ name: canonicalName(s.name), ip: s.ip }));
    b.add(origin, { type: "SOA", name: origin, ttl: zoneTtl, data: { mname: ns[0]!.name, rname: canonicalName(config.hostmaster ?? `hostmaster.${origin}`), serial, refresh: 3600, retry: 600, expire: 86_400, minimum: negativeTtl } }, false);
    for (const s of ns) {
      b.add(origin, { type: "NS", name: origin, ttl: zoneTtl, data: s.name }, false);
      if (s.ip && inZone(s.name, origin)) b.address(s.name, s.ip, zoneTtl, false);
    }

    const live = [...members].sort((x, y) => (x.id < y.id ? -1 : x.id > y.id ? 1 : 0)).filter((m) => m.attrs["draining"] !== true && isIP(m.ip) !== 0);
    const hosts = new HostNames(origin, ns.map((s) => s.name));
    const target = (m: Entity) => {
      const name = hosts.of(m);
      b.address(name, m.ip, ttl, false);
      return name;
    };

    // SIP: NAPTR → SRV → A/AAAA (RFC 3263 4.1, 4.2).
    const proxies = live.filter((m) => m.roles.includes(SIP_ROLE));
    SIP_TRANSPORTS.forEach((t, i) => {
      const owner = abs(t.srv);
      b.touch(owner);
      const offering = proxies.filter((m) => validPort(m.ports[t.port]));
      for (const m of offering) b.add(owner, srv(owner, ttl, m.ports[t.port]!, target(m)), true);
      if (offering.length > 0) {
        b.add(origin, { type: "NAPTR", name: origin, ttl, data: { order: 10, preference: 10 * (i + 1), flags: "s", services: t.service, regexp: "", replacement: owner } }, false);
      }
    });
    for (const m of proxies) {
      if (m.ports["sip_udp"] === 5060 || m.ports["sip_tcp"] === 5060) b.address(origin, m.ip, ttl, true);
    }

    // Event servers for bootstrap (`_eventserver._tcp`, see events/discovery.ts).
    const esOwner = abs("_eventserver._tcp");
    b.touch(esOwner);
    (config.eventServers ?? []).forEach((es, i) => {
      const host = isIP(es.host) ? hosts.named(`eventserver${i + 1}`) : canonicalName(es.host);
      if (isIP(es.host)) b.address(host, es.host, zoneTtl, false);
      b.add(esOwner, srv(esOwner, zoneTtl, es.port, host), false);
    });

    // Other services clients reach directly.
    for (const s of config.services ?? DEFAULT_SERVICES) {
      const owner = abs(s.srv);
      b.touch(owner);
      for (const m of live) {
        if (s.role !== null && !m.roles.includes(s.role)) continue;
        const port = m.ports[s.port];
        if (validPort(port)) b.add(owner, srv(owner, ttl, port, target(m)), true);
      }
    }
    return b.finish(serial, negativeTtl);
  }
}

/** Check a zone configuration once, at the edge; throws {@link DnsConfigError}. */
export function validateZoneConfig(config: ZoneConfig): void {
  if (!isValidName(config.origin) || canonicalName(config.origin) === "") throw new DnsConfigError(`invalid zone name "${config.origin}"`);
  if (config.nameservers.length === 0) throw new DnsConfigError(`zone ${config.origin}: at least one name server is needed`);
  for (const ns of config.nameservers) {
    if (!isValidName(ns.name)) throw new DnsConfigError(`zone ${config.origin}: invalid name server name "${ns.name}"`);
    if (ns.ip !== undefined && isIP(ns.ip) === 0) throw new DnsConfigError(`zone ${config.origin}: name server ${ns.name} has an invalid address "${ns.ip}"`);
  }
  for (const s of config.services ?? []) {
    if (!isValidName(`${s.srv}.x`)) throw new DnsConfigError(`invalid service owner "${s.srv}"`);
  }
  for (const es of config.eventServers ?? []) {
    if (isIP(es.host) === 0 && !isValidName(es.host)) throw new DnsConfigError(`invalid event server host "${es.host}"`);
  }
  for (const t of [config.ttl, config.zoneTtl, config.negativeTtl]) {
    if (t !== undefined && (!Number.isInteger(t) || t < 0 || t > 2_147_483_647)) throw new DnsConfigError(`invalid TTL ${t}`);
  }
}

function validPort(p: number | undefined): p is number {
  return p !== undefined && p > 0 && p <= 65535;
}

function srv(owner: string, ttl: number, port: number, target: string): Answer {
  // Equal priority and weight: the random slice does the load sharing (RFC 2782).
  return { type: "SRV", name: owner, ttl, data: { priority: 10, weight: 10, port, target } };
}

/** Unique host names `<label>.<origin>` for members, stable for a given member set. */
class HostNames {
  private readonly byId = new Map<string, string>();
  private readonly used: Set<string>;
  constructor(
    private readonly origin: string,
    reserved: readonly string[],
  ) {
    this.used = new Set(reserved);
  }

  of(m: Entity): string {
    let name = this.byId.get(m.id);
    if (!name) {
      name = this.named(hostLabel(m.id));
      this.byId.set(m.id, name);
    }
    return name;
  }

  named(label: string): string {
    let name = `${label}.${this.origin}`;
    for (let i = 2; this.used.has(name); i++) name = `${label.slice(0, 58)}-${i}.${this.origin}`;
    this.used.add(name);
    return name;
  }
}

class ZoneBuilder {
  private readonly nodes = new Map<string, Map<RecordType, { records: Answer[]; shared: boolean }>>();
  private readonly seen = new Set<string>();
  constructor(private readonly origin: string) {}

  touch(name: string): Map<RecordType, { records: Answer[]; shared: boolean }> {
    let node = this.nodes.get(name);
    if (!node) this.nodes.set(name, (node = new Map()));
    return node;
  }

  add(name: string, rr: Answer, shared: boolean): void {
    // Identical records are one record (RFC 2181 5): a member named twice adds nothing.
    const key = `${name}|${JSON.stringify(rr)}`;
    if (this.seen.has(key)) return;
    this.seen.add(key);
    const node = this.touch(name);
    let set = node.get(rr.type);
    if (!set) node.set(rr.type, (set = { records: [], shared }));
    set.records.push(rr);
  }

  address(name: string, ip: string, ttl: number, shared: boolean): void {
    const family = isIP(ip);
    if (family === 4) this.add(name, { type: "A", name, ttl, data: ip }, shared);
    else if (family === 6) this.add(name, { type: "AAAA", name, ttl, data: ip }, shared);
  }

  finish(serial: number, negativeTtl: number): Zone {
    const nodes = new Map<string, ZoneNode>();
    const names = new Set<string>();
    for (const [name, sets] of this.nodes) {
      nodes.set(name, { name, sets: new Map([...sets].map(([t, s]) => [t, { type: t, records: s.records, wire: s.records.map(encodeRR), shared: s.shared }])) });
      for (let n = name; inZone(n, this.origin); n = parentName(n)) {
        names.add(n);
        if (n === this.origin) break;
      }
    }
    return new Zone(this.origin, serial, nodes, names, negativeTtl);
  }
}
