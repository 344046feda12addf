/**
 * A SIP-aware mutation engine for fuzzing a running node. Seeds are the
 * RFC 4475 torture messages (test/sip/torture.ts) and the messages our
 * SIPp scenarios send (test/sip/scenarios/*.xml, keywords filled in as SIPp
 * would), plus the answers a UAS sends back; each fuzz message is a seed
 * with one to three mutations: header duplication, huge list counts, bad
 * ports, truncation, bit flips, hostile bytes, line deletion and swaps,
 * oversized values, wrong Content-Length, odd start lines, splices. A
 * seeded PRNG makes every run reproducible.
 */
import { readdirSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { INVALID, VALID } from "../sip/torture.js";
import { LOCALHOST, testIp, testNet } from "./slot.js";

/** xorshift128+: small, fast, reproducible. */
export class Prng {
  private s0: number;
  private s1: number;
  constructor(seed: number) {
    this.s0 = (seed ^ 0x9e3779b9) >>> 0 || 1;
    this.s1 = (seed * 2654435761) >>> 0 || 2;
  }
  next(): number {
    let x = this.s0;
    const y = this.s1;
    this.s0 = y;
    x ^= x << 23;
    x ^= x >>> 17;
    x ^= y ^ (y >>> 26);
    this.s1 = x >>> 0;
    return ((this.s0 + this.s1) >>> 0) / 4294967296;
  }
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)]!;
  }
}

const SCENARIOS = fileURLToPath(new URL("../../../test/sip/scenarios/", import.meta.url));

/** Fill SIPp keywords the way a call from testIp(110, 200) to the node would. */
function instantiate(template: string, n: number): string {
  const values: Record<string, string> = {
    domain: "example.test",
    local_ip: testIp(110, 200),
    remote_ip: testIp(110, 101),
    local_port: "5070",
    remote_port: "5060",
    transport: "UDP",
    user: "alice",
    callee: "bob",
    service: "bob",
    call_number: String(n),
    call_id: `${n}-fuzz@${testNet(110)}.200`,
    branch: `z9hG4bK-fuzz-${n}`,
    cseq: "1",
    media_ip: testIp(110, 200),
    media_ip_type: "4",
    local_ip_type: "4",
    media_port: "6000",
    contact: `sip:alice@${testNet(110)}.200:5070`,
    contact_host: testIp(110, 200),
    expires: "3600",
    pass: "alice-secret",
    field0: "alice",
    routes: `Route: <sip:${testNet(110)}.101:5060;lr>`,
    next_url: `sip:bob@${testNet(110)}.200:5070`,
    authentication: 'Authorization: Digest username="alice", realm="example.test", nonce="0123456789abcdef", uri="sip:example.test", response="00112233445566778899aabbccddeeff", algorithm=MD5, qop=auth, nc=00000001, cnonce="fuzz"',
    "last_Via:": `Via: SIP/2.0/UDP ${testNet(110)}.101:5060;branch=z9hG4bK-t0123456789-ab;rport=5060`,
    "last_From:": "From: <sip:alice@example.test>;tag=fuzz1",
    "last_To:": "To: <sip:bob@example.test>;tag=fuzz2",
    "last_Call-ID:": `Call-ID: ${n}-fuzz@${testNet(110)}.200`,
    "last_CSeq:": "CSeq: 1 INVITE",
    "last_Record-Route:": `Record-Route: <sip:${testNet(110)}.101:5060;transport=udp;lr>`,
  };
  const text = template.replace(/\[([A-Za-z_0-9:-]+)\]/g, (m, k: string) => values[k] ?? (k.startsWith("last_") ? "" : m === "[len]" ? "[len]" : "x"));
  const lines = text.trim().split(/\r?\n/).map((l) => l.trim());
  const blank = lines.indexOf("");
  const head = (blank < 0 ? lines : lines.slice(0, blank)).filter((l) => l.length > 0);
  const body = blank < 0 ? "" : `${lines.slice(blank + 1).join("\r\n")}\r\n`;
  return `${head.join("\r\n").replace("[len]", String(Buffer.byteLength(body)))}\r\n\r\n${body}`;
}

/** Every seed message. */
export function seeds(): Buffer[] {
  const out: Buffer[] = [...Object.values(VALID), ...Object.values(INVALID).map((x) => x.bytes)];
  let n = 1;
  for (const file of readdirSync(SCENARIOS).filter((f) => f.endsWith(".xml"))) {
    const xml = readFileSync(SCENARIOS + file, "utf8");
    for (const m of xml.matchAll(/<send[^>]*>\s*<!\[CDATA\[([\s\S]*?)\]\]>/g)) out.push(Buffer.from(instantiate(m[1]!, n++)));
  }
  return out;
}

const BAD_PORTS = ["0", "70000", "65536", "99999", "-1", "1e3", "", "5060abc", "4294967296"];
const HOSTILE = ["\0", "\r", "\n", "\r\n", '"', "<", ">", ",", ";", ":", "\\", " ", "\t", "%00", "\u00ff", "=", "@", "["];
const LIST_ENTRIES = [`<sip:${testNet(110)}.101:5060;lr>`, `SIP/2.0/UDP ${testNet(110)}.200:5070;branch=z9hG4bKx`, `<sip:a@${testNet(110)}.200>`, `<sip:${testNet(110)}.101;lr>`];
const LIST_HEADERS = ["Route", "Record-Route", "Via", "Contact", "Path"];

function splitHead(text: string): { lines: string[]; body: string } {
  const i = text.indexOf("\r\n\r\n");
  if (i < 0) return { lines: text.split("\r\n"), body: "" };
  return { lines: text.slice(0, i).split("\r\n"), body: text.slice(i + 4) };
}

function join(lines: string[], body: string): string {
  return `${lines.join("\r\n")}\r\n\r\n${body}`;
}

type Mutation = (text: string, r: Prng) => string;

const MUTATIONS: ReadonlyArray<[string, Mutation]> = [
  ["duplicate a header", (t, r) => {
    const { lines, body } = splitHead(t);
    if (lines.length < 2) return t;
    const i = 1 + r.int(lines.length - 1);
    const n = 1 + r.int(r.next() < 0.2 ? 400 : 4);
    lines.splice(i, 0, ...Array.from({ length: n }, () => lines[i]!));
    return join(lines, body);
  }],
  ["huge list", (t, r) => {
    const { lines, body } = splitHead(t);
    const n = 1 + r.int(r.next() < 0.5 ? 3000 : 40);
    lines.splice(1 + r.int(lines.length), 0, `${r.pick(LIST_HEADERS)}: ${Array.from({ length: n }, () => r.pick(LIST_ENTRIES)).join(", ")}`);
    return join(lines, body);
  }],
  ["bad port", (t, r) => {
    const ports = [...t.matchAll(/:(\d{1,5})\b/g)];
    if (ports.length === 0) return t.replace(/;rport/, `;rport=${r.pick(BAD_PORTS)}`);
    const m = r.pick(ports);
    return t.slice(0, m.index! + 1) + r.pick(BAD_PORTS) + t.slice(m.index! + m[0].length);
  }],
  ["bad rport or received", (t, r) => t.replace(/;rport(=\d+)?/i, `;rport=${r.pick(BAD_PORTS)}`).replace(/(Via:[^\r\n]*)/i, `$1;received=${r.pick(["999.1.1.1", "x", "", "::1::", `${LOCALHOST}:5060`])}`)],
  ["truncate", (t, r) => t.slice(0, r.int(t.length + 1))],
  ["flip bits", (t, r) => {
    const b = Buffer.from(t, "latin1");
    for (let i = 0, n = 1 + r.int(8); i < n && b.length > 0; i++) b[r.int(b.length)]! ^= 1 << r.int(8);
    return b.toString("latin1");
  }],
  ["hostile bytes", (t, r) => {
    let out = t;
    for (let i = 0, n = 1 + r.int(4); i < n; i++) {
      const at = r.int(out.length + 1);
      out = out.slice(0, at) + r.pick(HOSTILE) + out.slice(at);
    }
    return out;
  }],
  ["delete a line", (t, r) => {
    const { lines, body } = splitHead(t);
    if (lines.length > 1) lines.splice(r.int(lines.length), 1);
    return join(lines, body);
  }],
  ["swap lines", (t, r) => {
    const { lines, body } = splitHead(t);
    const i = r.int(lines.length);
    const j = r.int(lines.length);
    [lines[i], lines[j]] = [lines[j]!, lines[i]!];
    return join(lines, body);
  }],
  ["oversized value", (t, r) => {
    const { lines, body } = splitHead(t);
    if (lines.length < 2) return t;
    const i = 1 + r.int(lines.length - 1);
    lines[i] = `${lines[i]}${r.pick(["x", ",", ";p=1", " ", "\"", "%"]).repeat(1 + r.int(20_000))}`;
    return join(lines, body);
  }],
  ["content-length", (t, r) => {
    const v = r.pick(["-1", "99999999999", "abc", "0", "1", "65536", String(r.int(3000)), "1 2"]);
    return /content-length\s*:/i.test(t) ? t.replace(/(content-length|\bl)\s*:[^\r\n]*/i, `Content-Length: ${v}`) : t.replace("\r\n\r\n", `\r\nContent-Length: ${v}\r\n\r\n`);
  }],
  ["start line", (t, r) => {
    const { lines, body } = splitHead(t);
    lines[0] = r.pick(["SIP/2.0 200 OK", "SIP/2.0 999 Odd", "SIP/2.0 100", "INVITE sip:bob@example.test SIP/2.0", `ACK sip:x@${testNet(110)}.9:0 SIP/2.0`, "REGISTER sips:example.test SIP/7.0", "OPTIONS  sip:example.test  SIP/2.0", "BYE tel:+1234 SIP/2.0", "CANCEL sip:bob@[::1 SIP/2.0", "XYZ sip:a@b SIP/2.0"]);
    return join(lines, body);
  }],
  ["splice", (t, r) => {
    const cut = r.int(t.length + 1);
    return t.slice(0, cut) + t.slice(r.int(t.length + 1));
  }],
];

/** The names of the mutations, for reports. */
export const MUTATION_NAMES = MUTATIONS.map(([n]) => n);

/** One fuzz message: a seed with one to three mutations, at most `maxBytes` long. */
export function mutate(seedList: readonly Buffer[], r: Prng, maxBytes = 65_000): Buffer {
  let text = r.pick(seedList).toString("latin1");
  for (let i = 0, n = 1 + r.int(3); i < n; i++) text = r.pick(MUTATIONS)[1](text, r);
  const out = Buffer.from(text, "latin1");
  return out.length > maxBytes ? out.subarray(0, maxBytes) : out;
}
