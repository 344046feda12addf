/**
 * RFC 2136 dynamic UPDATE messages and RFC 8945 TSIG (HMAC-SHA256), sans-IO:
 * the messages `thor dns` sends to push its records to an external primary.
 * Records to add come pre-encoded (zone.ts `encodeRR`, dns-packet); the
 * deletions, the zone section and the TSIG record are written here.
 */
import { createHmac, timingSafeEqual } from "node:crypto";
import type { WireRR } from "./message-codec.js";

const TYPE_SOA = 6;
const TYPE_TSIG = 250;
const CLASS_IN = 1;
const CLASS_ANY = 255;
const OPCODE_UPDATE = 5;
const HMAC_SHA256 = "hmac-sha256";

export const TYPE_CODES: Readonly<Record<string, number>> = { A: 1, NS: 2, SOA: 6, AAAA: 28, SRV: 33, NAPTR: 35 };

/** A TSIG key (RFC 8945): name and shared secret, HMAC-SHA256. */
export interface TsigKey {
  name: string;
  secret: Buffer;
}

/** Uncompressed wire form of a name, lowercased (the canonical form TSIG signs, RFC 8945 4.3.3). */
export function nameWire(name: string): Buffer {
  const n = name.replace(/\.$/, "").toLowerCase();
  if (n === "") return Buffer.from([0]);
  const labels = n.split(".").map((l) => Buffer.from(l, "ascii"));
  const out = Buffer.alloc(labels.reduce((s, l) => s + l.length + 1, 0) + 1);
  let o = 0;
  for (const l of labels) {
    out[o++] = l.length;
    o += l.copy(out, o);
  }
  out[o] = 0;
  return out;
}

/** "Delete an RRset" (RFC 2136 2.5.2): NAME, TYPE, CLASS ANY, TTL 0, no RDATA. */
export function deleteRRset(name: string, type: string): Buffer {
  const code = TYPE_CODES[type];
  if (code === undefined) throw new RangeError(`no type code for ${type}`);
  const n = nameWire(name);
  const out = Buffer.alloc(n.length + 10);
  n.copy(out, 0);
  out.writeUInt16BE(code, n.length);
  out.writeUInt16BE(CLASS_ANY, n.length + 2);
  out.writeUInt32BE(0, n.length + 4);
  out.writeUInt16BE(0, n.length + 8);
  return out;
}

/** An UPDATE message for `zone` (RFC 2136 2): zone section, no prerequisites, the given updates. */
export function encodeUpdate(id: number, zone: string, updates: readonly Buffer[]): Buffer {
  const z = nameWire(zone);
  const header = Buffer.alloc(12);
  header.writeUInt16BE(id, 0);
  header.writeUInt16BE(OPCODE_UPDATE << 11, 2);
  header.writeUInt16BE(1, 4); // ZOCOUNT
  header.writeUInt16BE(0, 6); // PRCOUNT
  header.writeUInt16BE(updates.length, 8); // UPCOUNT
  header.writeUInt16BE(0, 10); // ADCOUNT
  const zoneSection = Buffer.alloc(4);
  zoneSection.writeUInt16BE(TYPE_SOA, 0);
  zoneSection.writeUInt16BE(CLASS_IN, 2);
  return Buffer.concat([header, z, zoneSection, ...updates]);
}

/** The records to add, as update RRs (they are ordinary RRs, RFC 2136 2.5.1). */
export function addRecords(records: readonly WireRR[]): Buffer[] {
  return records.map((r) => r.wire);
}

function tsigVariables(key: TsigKey, timeSigned: number, fudge: number, error: number): Buffer {
  const keyName = nameWire(key.name);
  const alg = nameWire(HMAC_SHA256);
  const tail = Buffer.alloc(6 + 2 + 2 + 2);
  tail.writeUIntBE(timeSigned, 0, 6);
  tail.writeUInt16BE(fudge, 6);
  tail.writeUInt16BE(error, 8);
  tail.writeUInt16BE(0, 10); // other len
  const cls = Buffer.alloc(6);
  cls.writeUInt16BE(CLASS_ANY, 0);
  cls.writeUInt32BE(0, 2);
  return Buffer.concat([keyName, cls, alg, tail]);
}

/**
 * Sign a message with TSIG (RFC 8945 4.2): returns the message with the TSIG
 * record appended (ARCOUNT + 1) and the MAC, needed to verify the answer.
 */
export function signTsig(message: Buffer, key: TsigKey, timeSigned: number, fudge = 300): { signed: Buffer; mac: Buffer } {
  const id = message.readUInt16BE(0);
  const mac = createHmac("sha256", key.secret).update(message).update(tsigVariables(key, timeSigned, fudge, 0)).digest();
  const alg = nameWire(HMAC_SHA256);
  const rdata = Buffer.alloc(alg.length + 6 + 2 + 2 + mac.length + 2 + 2 + 2);
  let o = alg.copy(rdata, 0);
  rdata.writeUIntBE(timeSigned, o, 6);
  rdata.writeUInt16BE(fudge, o + 6);
  rdata.writeUInt16BE(mac.length, o + 8);
  o += 10 + mac.copy(rdata, o + 10);
  rdata.writeUInt16BE(id, o); // original id
  rdata.writeUInt16BE(0, o + 2); // error
  rdata.writeUInt16BE(0, o + 4); // other len
  const keyName = nameWire(key.name);
  const fixed = Buffer.alloc(10);
  fixed.writeUInt16BE(TYPE_TSIG, 0);
  fixed.writeUInt16BE(CLASS_ANY, 2);
  fixed.writeUInt32BE(0, 4);
  fixed.writeUInt16BE(rdata.length, 8);
  const signed = Buffer.concat([message, keyName, fixed, rdata]);
  signed.writeUInt16BE(message.readUInt16BE(10) + 1, 10);
  return { signed, mac };
}

export type UpdateReply =
  | { ok: true; rcode: number; verified: boolean }
  | { ok: false; reason: string };

/**
 * Read the primary's answer to a signed UPDATE: its RCODE, and whether its
 * TSIG verifies against our request MAC (RFC 8945 4.3). Never throws.
 */
export function readUpdateReply(reply: Buffer, id: number, key: TsigKey, requestMac: Buffer): UpdateReply {
  try {
    if (reply.length < 12) return { ok: false, reason: "short reply" };
    if (reply.readUInt16BE(0) !== id) return { ok: false, reason: "reply id does not match" };
    const flags = reply.readUInt16BE(2);
    if (!(flags & 0x8000) || ((flags >> 11) & 0xf) !== OPCODE_UPDATE) return { ok: false, reason: "not an UPDATE reply" };
    const rcode = flags & 0xf;
    const arcount = reply.readUInt16BE(10);
    if (arcount === 0) return { ok: true, rcode, verified: false };
    // The TSIG record is the last one: walk the sections to find it.
    let o = 12;
    const counts = [reply.readUInt16BE(4), reply.readUInt16BE(6), reply.readUInt16BE(8), arcount];
    const skipName = () => {
      for (;;) {
        const len = reply[o]!;
        if (len === 0) {
          o += 1;
          return;
        }
        if ((len & 0xc0) === 0xc0) {
          o += 2;
          return;
        }
        o += 1 + len;
        if (o > reply.length) throw new RangeError("name past the end");
      }
    };
    for (let i = 0; i < counts[0]!; i++) {
      skipName();
      o += 4;
    }
    let tsigStart = -1;
    const rrs = counts[1]! + counts[2]! + counts[3]!;
    for (let i = 0; i < rrs; i++) {
      const start = o;
      skipName();
      const type = reply.readUInt16BE(o);
      const rdlen = reply.readUInt16BE(o + 8);
      if (type === TYPE_TSIG && i === rrs - 1) tsigStart = start;
      o += 10 + rdlen;
    }
    if (tsigStart < 0) return { ok: true, rcode, verified: false };
    o = tsigStart;
    skipName();
    let r = o + 10;
    o = r;
    skipName(); // algorithm
    r = o;
    const timeSigned = reply.readUIntBE(r, 6);
    const fudge = reply.readUInt16BE(r + 6);
    const macLen = reply.readUInt16BE(r + 8);
    const mac = reply.subarray(r + 10, r + 10 + macLen);
    const error = reply.readUInt16BE(r + 10 + macLen + 2);
    if (macLen === 0) return { ok: true, rcode, verified: false };
    const unsigned = Buffer.from(reply.subarray(0, tsigStart));
    unsigned.writeUInt16BE(arcount - 1, 10);
    const macPrefix = Buffer.alloc(2);
    macPrefix.writeUInt16BE(requestMac.length, 0);
    const expected = createHmac("sha256", key.secret).update(macPrefix).update(requestMac).update(unsigned).update(tsigVariables(key, timeSigned, fudge, error)).digest();
    return { ok: true, rcode, verified: expected.length === mac.length && timingSafeEqual(expected, mac) };
  } catch (err) {
    return { ok: false, reason: `unreadable reply: ${(err as Error).message}` };
  }
}
