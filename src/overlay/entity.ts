import { z } from "zod";

/**
 * A network member as it announces itself on `Thor.Presence` and as it appears
 * in `Thor.Members` snapshots.
 */
export const ROLE_NAME = /^[a-z][a-z0-9_]{0,31}$/;

export const entitySchema = z
  .object({
    /** Unique member id; defaults to the member's IP address. */
    id: z.string().min(1).max(128),
    /** Address other members and clients use to reach it (IPv4 or IPv6). */
    ip: z.string().min(2).max(64),
    /** Roles served, e.g. `sip_proxy`, `media_relay`. */
    roles: z.array(z.string().regex(ROLE_NAME)).max(32),
    /** Software version string. */
    version: z.string().max(64),
    /** Named ports, e.g. `{ lookup: 9500, sip_udp: 5060 }`. */
    ports: z.record(z.string().max(32), z.number().int().min(0).max(65535)),
    /** Free-form attributes (`draining`, `region`, ...). */
    attrs: z.record(z.string().max(64), z.union([z.string().max(1024), z.number(), z.boolean()])),
    /** Wall-clock start time in ms; tells a restart apart from a refresh. */
    startedAt: z.number().int().nonnegative(),
  })
  .strict();

export type Entity = z.infer<typeof entitySchema>;

/** True when two announcements describe the same member state. */
export function sameEntity(a: Entity, b: Entity): boolean {
  return (
    a.id === b.id &&
    a.ip === b.ip &&
    a.version === b.version &&
    a.startedAt === b.startedAt &&
    a.roles.length === b.roles.length &&
    a.roles.every((r, i) => r === b.roles[i]) &&
    sameRecord(a.ports, b.ports) &&
    sameRecord(a.attrs, b.attrs)
  );
}

function sameRecord(a: Record<string, unknown>, b: Record<string, unknown>): boolean {
  const ka = Object.keys(a);
  if (ka.length !== Object.keys(b).length) return false;
  return ka.every((k) => a[k] === b[k]);
}
