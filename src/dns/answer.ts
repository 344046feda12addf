/**
 * The answer engine (pure): a decoded query and the zones in, the pieces of
 * a response out (records pre-encoded when the zone was built), plus the UDP
 * size limit that applies to it. Load sharing happens here: a `shared` RRset
 * is answered with a random slice of at most `slice` records, in random order.
 */
import type { DecodedPacket, OptAnswer, RecordType } from "dns-packet";
import type { Authority } from "./authority.js";
import { BADVERS, FLAG_AA, FLAG_CD, FLAG_RD, OPCODE_QUERY, RCODE, type ResponseParts, type WireRR } from "./message-codec.js";
import { canonicalName } from "./names.js";
import { ANY_HINFO_TTL, DEFAULT_SLICE, DEFAULT_UDP_PAYLOAD } from "./options.js";
import { encodeRR, type RRSet, type Zone } from "./zone.js";

export interface AnswerOptions {
  /** At most this many records of a load-shared RRset. @default DEFAULT_SLICE */
  slice?: number;
  /** Our EDNS0 payload size. @default DEFAULT_UDP_PAYLOAD */
  udpPayload?: number;
  /** Uniform in [0, 1). @default Math.random */
  random?: () => number;
}

export interface AnswerResult {
  parts: ResponseParts;
  /** Largest UDP response the client accepts (512 without EDNS0, RFC 1035 4.2.1; else RFC 6891 6.2.5). */
  udpLimit: number;
  rcode: number;
  qtype: string;
}

const RCODE_NAMES = ["NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP", "REFUSED"];
export function rcodeName(rcode: number): string {
  return rcode === BADVERS ? "BADVERS" : (RCODE_NAMES[rcode] ?? `RCODE${rcode}`);
}

/** Pick `k` of `items` uniformly at random, in random order (partial Fisher-Yates). */
export function randomSlice<T>(items: readonly T[], k: number, random: () => number = Math.random): T[] {
  const a = items.slice();
  const n = Math.min(k, a.length);
  for (let i = 0; i < n; i++) {
    const j = i + Math.floor(random() * (a.length - i));
    const t = a[i]!;
    a[i] = a[j]!;
    a[j] = t;
  }
  a.length = n;
  return a;
}

/** The pre-encoded records of a set, sliced when it is load-shared; with the decoded records for additional processing. */
function pick(set: RRSet, slice: number, random: () => number): { wire: WireRR[]; records: RRSet["records"] } {
  if (!set.shared || set.records.length <= 1) return { wire: set.wire as WireRR[], records: set.records };
  const idx = randomSlice(
    set.records.map((_, i) => i),
    slice,
    random,
  );
  return { wire: idx.map((i) => set.wire[i]!), records: idx.map((i) => set.records[i]!) };
}

export function answerQuery(query: DecodedPacket, opt: OptAnswer | undefined, opcode: number, question: Buffer | undefined, authority: Authority, opts: AnswerOptions = {}): AnswerResult {
  const slice = opts.slice ?? DEFAULT_SLICE;
  const random = opts.random ?? Math.random;
  const ourPayload = opts.udpPayload ?? DEFAULT_UDP_PAYLOAD;
  const q = query.questions?.length === 1 ? query.questions[0] : undefined;
  const qtype: string = q?.type ?? "NONE";
  // RFC 6891 6.2.5: a requestor's size below 512 is treated as 512.
  const udpLimit = opt ? Math.max(512, Math.min(opt.udpPayloadSize, ourPayload)) : 512;
  const baseFlags = (opcode << 11) | ((query.flags ?? 0) & (FLAG_RD | FLAG_CD));
  const reply = (rcode: number, body: { aa?: boolean; answers?: WireRR[]; authorities?: WireRR[]; additionals?: WireRR[] } = {}): AnswerResult => ({
    parts: {
      id: query.id ?? 0,
      flags: baseFlags | (body.aa ? FLAG_AA : 0) | (rcode & 0xf),
      question: q ? question : undefined,
      answers: body.answers ?? [],
      authorities: body.authorities ?? [],
      additionals: body.additionals ?? [],
      opt: opt ? { udpPayload: ourPayload, extendedRcode: rcode >> 4 } : undefined,
    },
    udpLimit,
    rcode,
    qtype,
  });

  // RFC 1035 4.1.1: only standard queries are implemented.
  if (opcode !== OPCODE_QUERY) return reply(RCODE.NOTIMP);
  // RFC 6891 6.1.3: an EDNS version we do not implement gets BADVERS.
  if (opt && opt.ednsVersion > 0) return reply(BADVERS);
  // RFC 9619: QDCOUNT must be 1.
  if (!q || !question) return reply(RCODE.FORMERR);
  if ((q.class ?? "IN") !== "IN" && q.class !== "ANY") return reply(RCODE.REFUSED);
  const qname = canonicalName(q.name);
  const zone = authority.find(qname);
  // Not our zone: we are no resolver (no recursion, no referral upwards).
  if (!zone) return reply(RCODE.REFUSED);
  // Zone transfers are not offered.
  if (qtype === "AXFR" || qtype === "IXFR") return reply(RCODE.REFUSED);
  // Before the first membership (a restart) only the configured records are known: a name or type
  // that the members would fill gets SERVFAIL, which sends resolvers to the other name servers
  // instead of caching an authoritative empty answer (RFC 2308 7.1).
  const unknown = () => reply(RCODE.SERVFAIL);

  // RFC 1034 4.3.2 3c / RFC 2308 2.1: the name does not exist.
  if (!zone.exists(qname)) return authority.ready ? reply(RCODE.NXDOMAIN, { aa: true, authorities: [zone.negativeSoa] }) : unknown();
  const node = zone.node(qname);
  // RFC 8482 4.2: ANY gets a minimal answer, one synthesized HINFO "RFC8482", so that the
  // server cannot be used to amplify (a full answer is about 11 times the query).
  if (qtype === "ANY") return reply(RCODE.NOERROR, { aa: true, answers: [anyHinfo(qname)] });
  const sets: RRSet[] = [];
  const set = node?.sets.get(qtype as RecordType);
  if (set) sets.push(set);
  // RFC 2308 2.2: NODATA, the name exists without records of this type.
  if (sets.every((s) => s.records.length === 0)) return authority.ready ? reply(RCODE.NOERROR, { aa: true, authorities: [zone.negativeSoa] }) : unknown();

  const answers: WireRR[] = [];
  const additionals: WireRR[] = [];
  const seen = new Set<string>();
  for (const set of sets) {
    const { wire, records } = pick(set, slice, random);
    answers.push(...wire);
    additionalFor(zone, records, slice, random, additionals, seen);
  }
  // The owner is written as a pointer to the question: spelled as asked (RFC 4343 4).
  return reply(RCODE.NOERROR, { aa: true, answers, additionals });
}

/** The RFC 8482 4.2 answer to ANY at `name`: HINFO with CPU "RFC8482" and an empty OS. */
function anyHinfo(name: string): WireRR {
  return encodeRR({ type: "HINFO", name, ttl: ANY_HINFO_TTL, data: { cpu: "RFC8482", os: "" } });
}

/**
 * Additional section processing: addresses of SRV targets and name servers
 * (RFC 2782, RFC 1035 3.3.11), and for NAPTR with the "s" flag the SRV
 * records of the replacement with their addresses (RFC 3403 4.2, RFC 3263).
 */
function additionalFor(zone: Zone, records: RRSet["records"], slice: number, random: () => number, out: WireRR[], seen: Set<string>): void {
  const addresses = (target: string) => {
    const name = canonicalName(target);
    if (seen.has(name)) return;
    seen.add(name);
    const node = zone.node(name);
    if (!node) return;
    for (const t of ["A", "AAAA"] as const) {
      const set = node.sets.get(t);
      if (set) out.push(...pick(set, slice, random).wire);
    }
  };
  for (const rr of records) {
    if (rr.type === "SRV") addresses(rr.data.target);
    else if (rr.type === "NS") addresses(rr.data);
    else if (rr.type === "NAPTR" && rr.data.flags.toLowerCase() === "s") {
      const set = zone.node(canonicalName(rr.data.replacement))?.sets.get("SRV");
      if (!set) continue;
      const srv = pick(set, slice, random);
      out.push(...srv.wire);
      for (const s of srv.records) if (s.type === "SRV") addresses(s.data.target);
    }
  }
}
