/**
 * The one place where observability becomes Prometheus metrics. Domain code
 * publishes on `node:diagnostics_channel` (each folder's `diagnostics.ts`)
 * and never imports prom-client; this module subscribes by channel name and
 * keeps the metrics in its own registry (no global state), plus gauges and
 * counters read at scrape time from a member's live state.
 *
 * Naming: `thor_` prefix, `_total` counters, `_seconds` histograms, process
 * metrics under their standard names. Labels stay low-cardinality: no AOR,
 * Call-ID or address; free-form values from the outside (SIP methods, DNS
 * types) are folded into a fixed set plus `other`.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";
import { subscribe } from "../base/index.js";

/** SIP methods kept as their own label value; any other becomes `other` (a request line can carry any token). */
const SIP_METHODS = new Set(["INVITE", "ACK", "BYE", "CANCEL", "REGISTER", "OPTIONS", "PRACK", "SUBSCRIBE", "NOTIFY", "PUBLISH", "INFO", "REFER", "MESSAGE", "UPDATE"]);
const DNS_TYPES = new Set(["A", "AAAA", "NS", "SOA", "SRV", "NAPTR", "TXT", "CNAME", "PTR", "MX", "ANY", "AXFR", "IXFR", "OPT", "CAA", "HTTPS", "SVCB"]);

export const sipMethodLabel = (m: string): string => (SIP_METHODS.has(m) ? m : "other");
const dnsTypeLabel = (t: string): string => (DNS_TYPES.has(t) ? t : "other");
/** A status code is bounded (100..699 by the parser), but keep it to a class for anything unusual. */
const statusLabel = (s: number): string => (Number.isInteger(s) && s >= 100 && s <= 699 ? String(s) : "other");

export interface ThorMetricsOptions {
  /** `eventserver`, `manager`, `node`, `database`, `dns`, `monitor`. */
  component: string;
  version: string;
  /** Collect process metrics (CPU, memory, event loop lag, handles). @default true */
  processMetrics?: boolean;
}

/** A labelled sample read at scrape time. */
export type Samples = number | ReadonlyArray<readonly [Record<string, string>, number]>;

export class ThorMetrics {
  readonly registry = new Registry();
  private readonly offs: Array<() => void> = [];

  constructor(opts: ThorMetricsOptions) {
    if (opts.processMetrics !== false) collectDefaultMetrics({ register: this.registry });
    new Gauge({ name: "thor_build_info", help: "Component and version of this member (always 1)", labelNames: ["component", "version"], registers: [this.registry] }).set({ component: opts.component, version: opts.version }, 1);
    this.channels();
  }

  /** A gauge read at scrape time. */
  gauge(name: string, help: string, labelNames: readonly string[], read: () => Samples): void {
    const g: Gauge = new Gauge({ name, help, labelNames: [...labelNames], registers: [this.registry], collect: () => refill(g, read(), (labels, v) => g.set(labels, v)) });
  }

  /** A counter whose cumulative value is kept elsewhere (a stats object), read at scrape time. */
  counter(name: string, help: string, labelNames: readonly string[], read: () => Samples): void {
    const c: Counter = new Counter({ name, help, labelNames: [...labelNames], registers: [this.registry], collect: () => refill(c, read(), (labels, v) => c.inc(labels, Math.max(0, v))) });
  }

  /** The exposition text and its content type. */
  async exposition(): Promise<{ contentType: string; text: string }> {
    return { contentType: this.registry.contentType, text: await this.registry.metrics() };
  }

  close(): void {
    for (const off of this.offs) off();
    this.offs.length = 0;
    this.registry.clear();
  }

  private on<T>(channelName: string, fn: (message: T) => void): void {
    this.offs.push(subscribe<T>(channelName, fn));
  }

  private channels(): void {
    const r = [this.registry];
    // SIP engine.
    const sipRequests = new Counter({ name: "thor_sip_requests_total", help: "SIP requests received that opened a server transaction (ACK included)", labelNames: ["method"], registers: r });
    const sipResponses = new Counter({ name: "thor_sip_responses_total", help: "SIP responses sent by server transactions", labelNames: ["method", "status"], registers: r });
    this.on<{ method: string }>("thor:sip:request", (m) => sipRequests.inc({ method: sipMethodLabel(m.method) }));
    this.on<{ method: string; status: number }>("thor:sip:response", (m) => sipResponses.inc({ method: sipMethodLabel(m.method), status: statusLabel(m.status) }));
    const sipDropped = new Counter({ name: "thor_sip_dropped_total", help: "SIP requests the proxy dropped without an answer (ACKs it could not deliver), by reason", labelNames: ["method", "reason"], registers: r });
    this.on<{ method: string; reason: string }>("thor:sip:dropped", (m) => sipDropped.inc({ method: sipMethodLabel(m.method), reason: m.reason }));
    // Event servers.
    const evMessages = new Counter({ name: "thor_events_messages_total", help: "Publications relayed by this event server", labelNames: ["topic"], registers: r });
    const evBytes = new Counter({ name: "thor_events_bytes_total", help: "Bytes sent to subscribers by this event server", labelNames: ["topic"], registers: r });
    this.on<{ topic: string; bytes: number; subscribers: number }>("thor:events:publish", (m) => {
      evMessages.inc({ topic: m.topic });
      if (m.bytes > 0) evBytes.inc({ topic: m.topic }, m.bytes * m.subscribers);
    });
    const links = new Counter({ name: "thor_events_link_changes_total", help: "Event server links of this member going up or down", labelNames: ["state"], registers: r });
    this.on<{ state: string }>("thor:events:link", (m) => links.inc({ state: m.state === "up" ? "up" : "down" }));
    const refused = new Counter({ name: "thor_events_refused_connections_total", help: "Connections an event server refused or dropped", registers: r });
    this.on("thor:events:refused", () => refused.inc());
    // Overlay.
    const snapshots = new Counter({ name: "thor_membership_snapshots_total", help: "Membership deltas and tables by verdict of the membership feed (applied, or why not)", labelNames: ["verdict"], registers: r });
    this.on<{ verdict: string }>("thor:overlay:membership", (m) => snapshots.inc({ verdict: m.verdict }));
    const lookupClosed = new Counter({ name: "thor_lookup_connections_closed_total", help: "Lookup connections closed or refused by the server", labelNames: ["reason"], registers: r });
    this.on<{ reason: string }>("thor:overlay:lookup-closed", (m) => lookupClosed.inc({ reason: m.reason }));
    // Manager.
    const elections = new Counter({ name: "thor_manager_elections_total", help: "Election state changes of this manager", labelNames: ["to"], registers: r });
    this.on<{ to: string }>("thor:manager:election", (m) => elections.inc({ to: m.to }));
    // DNS.
    const dnsQueries = new Counter({ name: "thor_dns_queries_total", help: "DNS queries answered", labelNames: ["transport", "qtype", "rcode"], registers: r });
    this.on<{ transport: string; qtype: string; rcode: string }>("thor:dns:query", (m) => dnsQueries.inc({ transport: m.transport, qtype: dnsTypeLabel(m.qtype), rcode: m.rcode }));
    const dnsMalformed = new Counter({ name: "thor_dns_malformed_total", help: "Malformed DNS messages received", labelNames: ["transport"], registers: r });
    this.on<{ transport: string }>("thor:dns:malformed", (m) => dnsMalformed.inc({ transport: m.transport }));
    const zoneRecords = new Gauge({ name: "thor_dns_zone_records", help: "Records in the served zones", registers: r });
    const zoneSerial = new Gauge({ name: "thor_dns_zone_serial", help: "SOA serial of the served zones", registers: r });
    this.on<{ serial: number; records: number }>("thor:dns:zone", (m) => {
      zoneRecords.set(m.records);
      zoneSerial.set(m.serial);
    });
    // Provisioning.
    const provRequests = new Counter({ name: "thor_provisioning_requests_total", help: "Provisioning API requests by route and status", labelNames: ["method", "route", "status"], registers: r });
    const provLatency = new Histogram({ name: "thor_provisioning_request_duration_seconds", help: "Provisioning API request latency", labelNames: ["route"], buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5], registers: r });
    this.on<{ method: string; route: string; status: number; ms: number }>("thor:provisioning:request", (m) => {
      provRequests.inc({ method: m.method, route: m.route, status: statusLabel(m.status) });
      provLatency.observe({ route: m.route }, m.ms / 1000);
    });
    const cacheSize = new Gauge({ name: "thor_provisioning_cache_accounts", help: "Accounts in this node's subscriber cache after the last load", registers: r });
    const cacheLatency = new Histogram({ name: "thor_provisioning_cache_refresh_duration_seconds", help: "Subscriber cache loads and refreshes", labelNames: ["event"], buckets: [0.001, 0.01, 0.1, 0.5, 1, 5, 30], registers: r });
    this.on<{ event: string; accounts: number; ms: number }>("thor:provisioning:cache", (m) => {
      if (m.event === "load") cacheSize.set(m.accounts);
      cacheLatency.observe({ event: m.event }, m.ms / 1000);
    });
    // Database and PKI.
    const failovers = new Counter({ name: "thor_db_failover_events_total", help: "Database primary down/up and reads served by a secondary", labelNames: ["event"], registers: r });
    this.on<{ event: string }>("thor:db:failover", (m) => failovers.inc({ event: m.event }));
    const crl = new Counter({ name: "thor_crl_reloads_total", help: "CRL reloads by outcome", labelNames: ["adopted"], registers: r });
    this.on<{ adopted: boolean }>("thor:pki:crl", (m) => crl.inc({ adopted: String(m.adopted) }));
  }
}

/** Replace a metric's values with the samples just read. */
function refill(metric: { reset(): void }, s: Samples, set: (labels: Record<string, string>, v: number) => void): void {
  metric.reset();
  if (typeof s === "number") set({}, s);
  else for (const [labels, v] of s) set(labels, v);
}
