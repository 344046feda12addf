/**
 * The membership wire protocol (docs/manager.md, "Deltas"), sans-IO.
 *
 *   Thor.Members         {kind: "delta", epoch, seq, manager, at, count, digest, upsert: member[], remove: id[]}
 *                        {kind: "beacon", epoch, seq, manager, at, count, digest}
 *   Thor.MembersTable    {epoch, seq, manager, at, count, digest, part, parts, data}
 *   Thor.MembersRequest  {reason, have?: {epoch, seq}}
 *
 * - The membership has a version `(epoch, seq)`: `epoch` is the manager
 *   term, `seq` counts changes within it. A delta takes version `seq - 1` to
 *   `seq`; `count` and `digest` describe the table after it.
 * - A member is a tuple `[id, ip, roles, version, ports, attrs, startedAt]`
 *   (no repeated keys); `ports` and `attrs` keys are sorted, so a member has
 *   one encoding, which the digest hashes.
 * - The digest is the XOR of the first 8 bytes of SHA-256 of every member's
 *   encoding, as 16 hex digits: order-free and updated per change.
 * - A full table is the members' tuples as JSON, deflated (raw), base64,
 *   cut into parts of at most `partBytes` characters, so no table meets the
 *   event servers' frame limit whatever the membership's size.
 *
 * Decoding never throws: it returns a result with the reason.
 */
import { createHash } from "node:crypto";
import { deflateRawSync, inflateRawSync } from "node:zlib";
import { z } from "zod";
import { entitySchema, type Entity } from "./entity.js";
import { DEFAULT_TABLE_PART_BYTES, MAX_DELTA_OPS, MAX_MEMBERS, MAX_TABLE_BYTES, MAX_TABLE_PARTS } from "./options.js";

const f = entitySchema.shape;
export const memberTupleSchema = z.tuple([f.id, f.ip, f.roles, f.version, f.ports, f.attrs, f.startedAt]);
export type MemberTuple = z.infer<typeof memberTupleSchema>;

const version = {
  epoch: z.number().int().nonnegative(),
  seq: z.number().int().nonnegative(),
};
const header = {
  ...version,
  /** Id of the manager that published it. */
  manager: z.string().min(1).max(128),
  /** Wall-clock publication time in ms. */
  at: z.number().int().nonnegative(),
  /** Members in the table at this version. */
  count: z.number().int().nonnegative().max(MAX_MEMBERS),
  digest: z.string().regex(/^[0-9a-f]{16}$/),
};

export const membershipDeltaSchema = z
  .object({
    kind: z.literal("delta"),
    ...header,
    /** Members that joined or changed (roles, ports, attributes, draining, a restart). */
    upsert: z.array(memberTupleSchema).max(MAX_DELTA_OPS),
    /** Ids of members that left. */
    remove: z.array(f.id).max(MAX_DELTA_OPS),
  })
  .strict();

export const membershipBeaconSchema = z.object({ kind: z.literal("beacon"), ...header }).strict();

/** `Thor.Members`: a delta or the periodic beacon. */
export const membershipMessageSchema = z.discriminatedUnion("kind", [membershipDeltaSchema, membershipBeaconSchema]);

/** `Thor.MembersTable`: one part of a full table, sent only to the members that asked. */
export const membershipTableSchema = z
  .object({
    ...header,
    part: z.number().int().nonnegative().max(MAX_TABLE_PARTS - 1),
    parts: z.number().int().min(1).max(MAX_TABLE_PARTS),
    data: z.string().max(2 * DEFAULT_TABLE_PART_BYTES),
  })
  .strict();

/** Why a member asks for the full table. */
export const TABLE_REQUEST_REASONS = ["start", "gap", "digest", "term", "stale"] as const;
export type TableRequestReason = (typeof TABLE_REQUEST_REASONS)[number];

/** `Thor.MembersRequest`: a member asks the active manager for the full table (answered to its certificate's CN alone). */
export const membershipRequestSchema = z
  .object({
    reason: z.enum(TABLE_REQUEST_REASONS),
    have: z.object(version).strict().optional(),
  })
  .strict();

export type MembershipDelta = z.infer<typeof membershipDeltaSchema>;
export type MembershipBeacon = z.infer<typeof membershipBeaconSchema>;
export type MembershipMessage = z.infer<typeof membershipMessageSchema>;
export type MembershipTablePart = z.infer<typeof membershipTableSchema>;
export type MembershipRequest = z.infer<typeof membershipRequestSchema>;

function sortedRecord<V>(r: Readonly<Record<string, V>>): Record<string, V> {
  const keys = Object.keys(r);
  if (keys.every((k, i) => i === 0 || keys[i - 1]! < k)) return r as Record<string, V>;
  const out: Record<string, V> = {};
  for (const k of keys.sort()) out[k] = r[k]!;
  return out;
}

export function toTuple(e: Entity): MemberTuple {
  return [e.id, e.ip, e.roles, e.version, sortedRecord(e.ports), sortedRecord(e.attrs), e.startedAt];
}

export function fromTuple(t: MemberTuple): Entity {
  return { id: t[0], ip: t[1], roles: t[2], version: t[3], ports: t[4], attrs: t[5], startedAt: t[6] };
}

/** The digest contribution of one member: the first 8 bytes of SHA-256 of its encoding. */
function memberHash(e: Entity): [number, number] {
  const h = createHash("sha256").update(JSON.stringify(toTuple(e))).digest();
  return [h.readUInt32BE(0), h.readUInt32BE(4)];
}

/** The order-free digest of a membership, updated member by member. */
export class MembershipDigest {
  private hi = 0;
  private lo = 0;

  static of(members: Iterable<Entity>): MembershipDigest {
    const d = new MembershipDigest();
    for (const m of members) d.toggle(m);
    return d;
  }

  /** Add a member, or remove it again (XOR). */
  toggle(e: Entity): void {
    const [hi, lo] = memberHash(e);
    this.hi = (this.hi ^ hi) >>> 0;
    this.lo = (this.lo ^ lo) >>> 0;
  }

  copy(): MembershipDigest {
    const d = new MembershipDigest();
    d.hi = this.hi;
    d.lo = this.lo;
    return d;
  }

  get value(): string {
    return this.hi.toString(16).padStart(8, "0") + this.lo.toString(16).padStart(8, "0");
  }
}

export interface TableHeader {
  epoch: number;
  seq: number;
  manager: string;
  at: number;
}

/** A full table as the parts to publish (compressed once; every part carries the header). */
export function encodeTable(h: TableHeader, members: readonly Entity[], partBytes = DEFAULT_TABLE_PART_BYTES): MembershipTablePart[] {
  const data = deflateRawSync(JSON.stringify(members.map(toTuple))).toString("base64");
  const digest = MembershipDigest.of(members).value;
  const parts = Math.max(1, Math.ceil(data.length / partBytes));
  return Array.from({ length: parts }, (_, part) => ({ ...h, count: members.length, digest, part, parts, data: data.slice(part * partBytes, (part + 1) * partBytes) }));
}

export type TableResult = { ok: true; members: Entity[] } | { ok: false; error: string };

/** Decode the joined `data` of every part and check it against the header's count and digest. */
export function decodeTable(h: Pick<MembershipTablePart, "count" | "digest">, data: string): TableResult {
  let json: unknown;
  try {
    json = JSON.parse(inflateRawSync(Buffer.from(data, "base64"), { maxOutputLength: MAX_TABLE_BYTES }).toString("utf8"));
  } catch (err) {
    return { ok: false, error: `table does not inflate to JSON: ${err instanceof Error ? err.message : String(err)}` };
  }
  const parsed = z.array(memberTupleSchema).max(MAX_MEMBERS).safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    return { ok: false, error: `table invalid: ${issue ? `${issue.path.join(".")} ${issue.message}` : "bad shape"}` };
  }
  const members = parsed.data.map(fromTuple);
  if (members.length !== h.count) return { ok: false, error: `table holds ${members.length} members, its header says ${h.count}` };
  if (new Set(members.map((m) => m.id)).size !== members.length) return { ok: false, error: "table lists a member twice" };
  const digest = MembershipDigest.of(members).value;
  if (digest !== h.digest) return { ok: false, error: `table digest ${digest} differs from its header's ${h.digest}` };
  return { ok: true, members };
}

/**
 * Collects the parts of one table (the newest version offered wins; parts of
 * another version are dropped), bounded by the schema: at most
 * MAX_TABLE_PARTS parts of bounded size.
 */
export class TableAssembler {
  private key: string | undefined;
  private parts: Array<string | undefined> = [];
  private got = 0;

  /** Offer one part; returns the header and joined data once every part of its table is here. */
  add(p: MembershipTablePart): { header: MembershipTablePart; data: string } | undefined {
    if (p.parts === 1) {
      this.reset();
      return p.part === 0 ? { header: p, data: p.data } : undefined;
    }
    const key = `${p.epoch}/${p.seq}/${p.digest}/${p.parts}`;
    if (key !== this.key) {
      this.key = key;
      this.parts = new Array<string | undefined>(p.parts).fill(undefined);
      this.got = 0;
    }
    if (p.part >= p.parts || this.parts[p.part] !== undefined) return undefined;
    this.parts[p.part] = p.data;
    if (++this.got < p.parts) return undefined;
    const data = this.parts.join("");
    this.reset();
    return { header: p, data };
  }

  reset(): void {
    this.key = undefined;
    this.parts = [];
    this.got = 0;
  }
}
