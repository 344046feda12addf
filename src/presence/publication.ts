/**
 * Event state publication (RFC 3903), the compositor's input: the
 * publications of each presentity, each with its entity tag and deadline.
 * Sans-IO: `now` is an argument, `expire(now)` is called by the owner's
 * timer. Every change bumps the presentity's version, and a presentity's
 * whole state is one {@link PublicationEntry}, so holders replicate it as
 * they replicate registrations (the newer version wins).
 */
import { randomBytes } from "node:crypto";
import { DEFAULT_PRESENCE_LIMITS, type PresenceLimits } from "./options.js";
import { checkPidf } from "./pidf.js";

export interface Publication {
  /** SIP-ETag (RFC 3903 4.1): changes with every successful PUBLISH. */
  etag: string;
  /** The PIDF document. */
  body: string;
  /** Deadline, ms since the epoch. */
  expiresAt: number;
}

/** A presentity's publications, for replication. */
export interface PublicationEntry {
  aor: string;
  version: number;
  publications: Publication[];
}

export interface PublishRequest {
  /** SIP-If-Match. */
  ifMatch?: string;
  /** Expires header (seconds); undefined when absent. */
  expires?: number;
  body?: string;
  contentType?: string;
}

export type PublishOutcome =
  | { status: 200; etag: string; expires: number; changed: boolean }
  | { status: 400 | 403 | 412 | 413 | 415; reason: string }
  | { status: 423; minExpires: number };

const newEtag = () => randomBytes(9).toString("base64url");

export class PublicationStore {
  private readonly byAor = new Map<string, { version: number; pubs: Map<string, Publication> }>();
  private readonly limits: PresenceLimits;

  constructor(limits: Partial<PresenceLimits> = {}) {
    this.limits = { ...DEFAULT_PRESENCE_LIMITS, ...limits };
  }

  /** The live publications of a presentity (oldest first, by their last change). */
  publications(aor: string, now: number): Publication[] {
    return [...(this.byAor.get(aor)?.pubs.values() ?? [])].filter((p) => p.expiresAt > now);
  }

  version(aor: string): number {
    return this.byAor.get(aor)?.version ?? 0;
  }

  /** Handle one PUBLISH (RFC 3903 6). `changed` says whether watchers must be told. */
  publish(aor: string, req: PublishRequest, now: number): PublishOutcome {
    const l = this.limits;
    const want = req.expires ?? l.defaultPublishExpires;
    if (want !== 0 && want < l.minPublishExpires) return { status: 423, minExpires: l.minPublishExpires };
    const expires = Math.min(want, l.maxPublishExpires);
    if (req.body !== undefined) {
      if ((req.contentType ?? "").split(";")[0]!.trim().toLowerCase() !== "application/pidf+xml") return { status: 415, reason: "presence is published as application/pidf+xml" };
      if (Buffer.byteLength(req.body) > l.maxPublicationBytes) return { status: 413, reason: `a publication holds at most ${l.maxPublicationBytes} bytes` };
      const bad = checkPidf(req.body, aor);
      if (bad) return { status: 400, reason: bad };
    }
    let slot = this.byAor.get(aor);
    if (req.ifMatch === undefined) {
      // RFC 3903 6 step 4: an initial PUBLISH carries a body.
      if (req.body === undefined) return { status: 400, reason: "an initial PUBLISH needs a body (or SIP-If-Match to refresh)" };
      if (expires === 0) return { status: 400, reason: "an initial PUBLISH with Expires: 0 publishes nothing" };
      if (!slot) this.byAor.set(aor, (slot = { version: 0, pubs: new Map() }));
      this.dropExpired(slot.pubs, now);
      if (slot.pubs.size >= l.maxPublications) return { status: 403, reason: `a presentity has at most ${l.maxPublications} publications` };
      const etag = newEtag();
      slot.pubs.set(etag, { etag, body: req.body, expiresAt: now + expires * 1000 });
      slot.version++;
      return { status: 200, etag, expires, changed: true };
    }
    const old = slot?.pubs.get(req.ifMatch);
    // RFC 3903 6 step 3: an unknown (or expired) entity tag is 412.
    if (!slot || !old || old.expiresAt <= now) return { status: 412, reason: "no publication with that SIP-If-Match" };
    slot.version++;
    if (expires === 0) {
      slot.pubs.delete(req.ifMatch);
      return { status: 200, etag: req.ifMatch, expires: 0, changed: true };
    }
    const etag = newEtag();
    const next = { etag, body: req.body ?? old.body, expiresAt: now + expires * 1000 };
    if (req.body !== undefined) {
      // A modification is the newest state (composition order, pidf.ts).
      slot.pubs.delete(req.ifMatch);
      slot.pubs.set(etag, next);
    } else {
      // A refresh keeps its place: the composed document does not change.
      slot.pubs = new Map([...slot.pubs].map(([k, p]) => (k === req.ifMatch ? [etag, next] : [k, p])));
    }
    return { status: 200, etag, expires, changed: req.body !== undefined };
  }

  /** Remove expired publications; answers the presentities whose state changed. */
  expire(now: number): string[] {
    const changed: string[] = [];
    for (const [aor, slot] of this.byAor) {
      if (this.dropExpired(slot.pubs, now)) {
        slot.version++;
        changed.push(aor);
      }
      if (slot.pubs.size === 0 && !changed.includes(aor)) this.byAor.delete(aor);
    }
    return changed;
  }

  /** Forget a presentity's publications (handed over). */
  drop(aor: string): void {
    this.byAor.delete(aor);
  }

  /** The presentities with publications. */
  aors(): string[] {
    return [...this.byAor].filter(([, s]) => s.pubs.size > 0).map(([a]) => a);
  }

  /** A presentity's state for replication. */
  entry(aor: string): PublicationEntry {
    const slot = this.byAor.get(aor);
    return { aor, version: slot?.version ?? 0, publications: [...(slot?.pubs.values() ?? [])].map((p) => ({ ...p })) };
  }

  /** Adopt a replicated state when it is newer than ours; answers whether it was. */
  apply(e: PublicationEntry): boolean {
    const mine = this.byAor.get(e.aor);
    if (mine && mine.version >= e.version) return false;
    this.byAor.set(e.aor, { version: e.version, pubs: new Map(e.publications.map((p) => [p.etag, { ...p }])) });
    return true;
  }

  private dropExpired(pubs: Map<string, Publication>, now: number): boolean {
    let dropped = false;
    for (const [k, p] of pubs)
      if (p.expiresAt <= now) {
        pubs.delete(k);
        dropped = true;
      }
    return dropped;
  }
}
