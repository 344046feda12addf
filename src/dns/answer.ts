/**
 * The answer engine (pure): a decoded query and the zones in, a response
 * packet out, plus the UDP size limit that applies to it. Load sharing
 * happens here: a `shared` RRset is answered with a random slice of at most
 * `slice` records, in random order.
 */
import type { Answer, DecodedPacket, OptAnswer, Packet, RecordType } from "dns-packet";
import type { Authority } from "./authority.js";
import { BADVERS, FLAG_AA, FLAG_CD, FLAG_RD, OPCODE_QUERY, RCODE } from "./message-codec.js";
import { canonicalName } from "./names.js";
import { DEFAULT_SLICE, DEFAULT_UDP_PAYLOAD } from "./options.js";
import type { RRSet, Zone } from "./zone.js";

export interface AnswerOptions {
  /** At most this many records of a load-shared RRset. @default DEFAULT_SLICE */
  slice?: number;
  /** Our EDNS0 payload size. @default DEFAULT_UDP_PAYLOAD */
  udpPayload?: number;
  /** Uniform in [0, 1). @default Math.random */
  random?: () => number;
}

export interface AnswerResult {
  response: Packet;
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

export function answerQuery(query: DecodedPacket, opt: OptAnswer | undefined, opcode: number, authority: Authority, opts: AnswerOptions = {}): AnswerResult {
  const slice = opts.slice ?? DEFAULT_SLICE;
  const random = opts.random ?? Math.random;
  const ourPayload = opts.udpPayload ?? DEFAULT_UDP_PAYLOAD;
  const question = query.questions?.[0];
  const qtype: string = question?.type ?? "NONE";
  // RFC 6891 6.2.5: a requestor's size below 512 is treated as 512.
  const udpLimit = opt ? Math.max(512, Math.min(opt.udpPayloadSize, ourPayload)) : 512;
  const baseFlags = (opcode << 11) | ((query.flags ?? 0) & (FLAG_RD | FLAG_CD));
  const ednsOut: Answer[] = opt ? [{ type: "OPT", name: ".", udpPayloadSize: ourPayload, extendedRcode: 0, ednsVersion: 0, flags: 0, flag_do: false, options: [] }] : [];
  const reply = (rcode: number, body: { aa?: boolean; answers?: Answer[]; authorities?: Answer[]; additionals?: Answer[] } = {}): AnswerResult => ({
    response: {
      type: "response",
      id: query.id ?? 0,
      flags: baseFlags | (body.aa ? FLAG_AA : 0) | (rcode & 0xf),
      questions: query.questions ?? [],
      answers: body.answers ?? [],
      authorities: body.authorities ?? [],
      additionals: [...(body.additionals ?? []), ...ednsOut],
    },
    udpLimit,
    rcode,
    qtype,
  });

  // RFC 1035 4.1.1: only standard queries are implemented.
  if (opcode !== OPCODE_QUERY) return reply(RCODE.NOTIMP);
  // RFC 6891 6.1.3: an EDNS version we do not implement gets BADVERS.
  if (opt && opt.ednsVersion > 0) {
    const out = reply(RCODE.NOERROR);
    out.response.additionals = [{ ...(ednsOut[0] as OptAnswer), extendedRcode: BADVERS >> 4 }];
    return { ...out, rcode: BADVERS };
  }
  // RFC 9619: QDCOUNT must be 1.
  if (!question || (query.questions?.length ?? 0) !== 1) return reply(RCODE.FORMERR);
  if ((question.class ?? "IN") !== "IN" && question.class !== "ANY") return reply(RCODE.REFUSED);
  const qname = canonicalName(question.name);
  const zone = authority.find(qname);
  // Not our zone: we are no resolver (no recursion, no referral upwards).
  if (!zone) return reply(RCODE.REFUSED);
  // Zone transfers are not offered.
  if (qtype === "AXFR" || qtype === "IXFR") return reply(RCODE.REFUSED);

  const negative = () => [{ ...zone.soa, ttl: Math.min(zone.soa.ttl ?? 0, zone.negativeTtl) }];
  // RFC 1034 4.3.2 3c / RFC 2308 2.1: the name does not exist.
  if (!zone.exists(qname)) return reply(RCODE.NXDOMAIN, { aa: true, authorities: negative() });
  const node = zone.node(qname);
  const sets: RRSet[] = [];
  if (node) {
    if (qtype === "ANY") sets.push(...node.sets.values());
    else {
      const set = node.sets.get(qtype as RecordType);
      if (set) sets.push(set);
    }
  }
  // RFC 2308 2.2: NODATA, the name exists without records of this type.
  if (sets.every((s) => s.records.length === 0)) return reply(RCODE.NOERROR, { aa: true, authorities: negative() });

  const answers: Answer[] = [];
  for (const set of sets) {
    const records = set.shared ? randomSlice(set.records, slice, random) : set.records;
    // The owner is spelled as asked (case preserved, RFC 4343 4).
    for (const rr of records) answers.push({ ...rr, name: question.name } as Answer);
  }
  return reply(RCODE.NOERROR, { aa: true, answers, additionals: additionalFor(zone, answers, slice, random) });
}

/**
 * Additional section processing: addresses of SRV targets and name servers
 * (RFC 2782, RFC 1035 3.3.11), and for NAPTR with the "s" flag the SRV
 * records of the replacement with their addresses (RFC 3403 4.2, RFC 3263).
 */
function additionalFor(zone: Zone, answers: readonly Answer[], slice: number, random: () => number): Answer[] {
  const out: Answer[] = [];
  const seen = new Set<string>();
  const addresses = (target: string) => {
    const name = canonicalName(target);
    if (seen.has(name)) return;
    seen.add(name);
    const node = zone.node(name);
    if (!node) return;
    for (const t of ["A", "AAAA"] as const) {
      const set = node.sets.get(t);
      if (set) out.push(...(set.shared ? randomSlice(set.records, slice, random) : set.records));
    }
  };
  for (const rr of answers) {
    if (rr.type === "SRV") addresses(rr.data.target);
    else if (rr.type === "NS") addresses(rr.data);
    else if (rr.type === "NAPTR" && rr.data.flags.toLowerCase() === "s") {
      const set = zone.node(canonicalName(rr.data.replacement))?.sets.get("SRV");
      if (!set) continue;
      const srvs = set.shared ? randomSlice(set.records, slice, random) : set.records;
      out.push(...srvs);
      for (const s of srvs) if (s.type === "SRV") addresses(s.data.target);
    }
  }
  return out;
}
