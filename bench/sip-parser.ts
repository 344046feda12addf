/**
 * SIP message parsing, messages per second on one core, for a typical
 * REGISTER (with Authorization) and a typical INVITE with SDP. Parsing
 * includes the checks a server makes before accepting a request (mandatory
 * headers, top Via, From/To, CSeq, Request-URI). Baseline: V8's native
 * JSON.parse of the same message as a JSON object of header strings, i.e. a
 * C++ parser touching the same bytes.
 */
import { parseMessage, type SipRequest } from "../src/sip/message/index.js";
import type { BenchResult } from "./types.js";

const REGISTER = Buffer.from(
  [
    "REGISTER sip:example.com SIP/2.0",
    "Via: SIP/2.0/UDP 192.0.2.10:5060;rport;branch=z9hG4bK776asdhds",
    "Max-Forwards: 70",
    "To: Alice <sip:alice@example.com>",
    "From: Alice <sip:alice@example.com>;tag=456248",
    "Call-ID: 843817637684230@998sdasdh09",
    "CSeq: 1826 REGISTER",
    "Contact: <sip:alice@192.0.2.10:5060;transport=udp>;+sip.instance=\"<urn:uuid:00000000-0000-1000-8000-AABBCCDDEEFF>\";reg-id=1",
    'Authorization: Digest username="alice", realm="example.com", nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", uri="sip:example.com", response="6629fae49393a05397450978507c4ef1", algorithm=MD5, qop=auth, nc=00000001, cnonce="0a4f113b"',
    "Expires: 3600",
    "User-Agent: bench/1.0",
    "Content-Length: 0",
    "",
    "",
  ].join("\r\n"),
);

const SDP = "v=0\r\no=alice 2890844526 2890844526 IN IP4 192.0.2.10\r\ns=-\r\nc=IN IP4 192.0.2.10\r\nt=0 0\r\nm=audio 49170 RTP/AVP 0 8 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:101 telephone-event/8000\r\n";
const INVITE = Buffer.from(
  [
    "INVITE sip:bob@example.com SIP/2.0",
    "Via: SIP/2.0/UDP 192.0.2.10:5060;rport;branch=z9hG4bK74bf9",
    "Max-Forwards: 70",
    "To: Bob <sip:bob@example.com>",
    "From: Alice <sip:alice@example.com>;tag=9fxced76sl",
    "Call-ID: 3848276298220188511@192.0.2.10",
    "CSeq: 1 INVITE",
    "Contact: <sip:alice@192.0.2.10:5060>",
    "Route: <sip:proxy.example.com;lr>",
    "Allow: INVITE, ACK, CANCEL, OPTIONS, BYE, REFER, NOTIFY, MESSAGE, SUBSCRIBE, INFO",
    "Supported: replaces, timer",
    "Content-Type: application/sdp",
    `Content-Length: ${SDP.length}`,
    "",
    SDP,
  ].join("\r\n"),
);

function asJson(buf: Buffer): string {
  const text = buf.toString("utf8");
  const [head = "", body = ""] = text.split("\r\n\r\n");
  return JSON.stringify({ lines: head.split("\r\n"), body });
}

function rate(fn: () => unknown, ms = 1200): number {
  let n = 0;
  const start = performance.now();
  while (performance.now() - start < ms) {
    for (let i = 0; i < 1000; i++) fn();
    n += 1000;
  }
  return n / ((performance.now() - start) / 1000);
}

export async function run(): Promise<BenchResult[]> {
  const out: BenchResult[] = [];
  for (const [name, buf] of [["REGISTER", REGISTER], ["INVITE with SDP", INVITE]] as const) {
    const check = parseMessage(buf);
    if (!check.ok) throw new Error(`bench message ${name} does not parse: ${check.error.reason}`);
    const json = asJson(buf);
    rate(() => parseMessage(buf), 300);
    const parse = rate(() => {
      const r = parseMessage(buf);
      // what a proxy reads of every request
      if (r.ok) void (r.message as SipRequest).via?.params.get("branch");
    });
    const base = rate(() => JSON.parse(json));
    out.push({ name: `parse ${name} (${buf.length} bytes) + top Via`, value: parse, unit: "msg/s", baseline: { name: "JSON.parse of the same text", value: base } });
  }
  return out;
}
