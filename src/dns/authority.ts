/**
 * The set of zones one `thor dns` serves, rebuilt from each membership that
 * changes what would be published. The SOA serial bumps on every such
 * change (RFC 1982 arithmetic is never needed: it only grows).
 */
import type { Entity } from "../overlay/index.js";
import { canonicalName, inZone } from "./names.js";
import { validateZoneConfig, Zone, type ZoneConfig } from "./zone.js";

export class Authority {
  private zoneList: Zone[];
  private members: readonly Entity[] = [];
  private fingerprint = "";
  private serialValue: number;
  private applied = false;

  /** `initialSerial`: typically the wall clock in seconds. */
  constructor(
    private readonly configs: readonly ZoneConfig[],
    initialSerial: number,
  ) {
    for (const c of configs) validateZoneConfig(c);
    this.serialValue = initialSerial >>> 0;
    this.zoneList = this.build();
  }

  /** Whether a membership was applied: before that the zones hold no member, and answers would lie. */
  get ready(): boolean {
    return this.applied;
  }

  get serial(): number {
    return this.serialValue;
  }

  zones(): readonly Zone[] {
    return this.zoneList;
  }

  /** The zone a (canonical) name belongs to, the most specific origin first. */
  find(name: string): Zone | undefined {
    let best: Zone | undefined;
    for (const z of this.zoneList) if (inZone(name, z.origin) && (!best || z.origin.length > best.origin.length)) best = z;
    return best;
  }

  /**
   * Apply a membership. Returns true when the published records change; the
   * serial then becomes `max(serial + 1, atSeconds)`, so instances that see
   * the same snapshots (stamped by the manager) agree on it.
   */
  apply(members: readonly Entity[], atSeconds: number): boolean {
    this.applied = true;
    const fp = fingerprintOf(members);
    if (fp === this.fingerprint) return false;
    this.fingerprint = fp;
    this.members = members;
    this.serialValue = Math.max(this.serialValue + 1, Math.floor(atSeconds)) >>> 0;
    this.zoneList = this.build();
    return true;
  }

  private build(): Zone[] {
    return this.configs.map((c) => Zone.build({ ...c, origin: canonicalName(c.origin) }, this.members, this.serialValue));
  }
}

/** What of a membership the zones depend on, in a stable order. */
function fingerprintOf(members: readonly Entity[]): string {
  const rows = members
    .map((m) => [m.id, m.ip, [...m.roles].sort(), Object.entries(m.ports).sort(([a], [b]) => (a < b ? -1 : 1)), m.attrs["draining"] === true] as const)
    .sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  return JSON.stringify(rows);
}
