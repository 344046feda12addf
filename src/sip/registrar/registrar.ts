/**
 * REGISTER processing (RFC 3261 10.3), after authentication: add, refresh
 * and remove bindings, `*` with Expires 0, q-values, per-binding expiry,
 * Min-Expires (423), Call-ID/CSeq ordering, and a 200 listing the current
 * bindings. `+sip.instance` and `reg-id` are kept (RFC 5626); a client that
 * supports GRUU gets its public GRUU (RFC 5627).
 */
import { aorOf, formatUri, ownCopy, parseNameAddr, parseUInt, type SipRequest } from "../message/index.js";
import type { Flow } from "../transport/index.js";
import { reachedOnlyOverFlow, type Binding, type FailedFlow, type RegisterData, type RegisterOutcome } from "./location.js";
import { LocationStore } from "./location-store.js";

export interface RegistrarOptions {
  /** @default 60 s */
  minExpires?: number;
  /** @default 3600 s */
  maxExpires?: number;
  /** @default 3600 s */
  defaultExpires?: number;
  /**
   * Bindings one AOR may hold at once: a REGISTER that would leave more is
   * refused whole (503, as Kamailio's and OpenSIPS's max_contacts), so one
   * account cannot make every call fork to hundreds of targets. @default 10
   */
  maxContacts?: number;
}

/** @default 10 */
export const DEFAULT_MAX_CONTACTS = 10;

/** Extract the registrar's input from a REGISTER received on `flow`. */
export function registerData(req: SipRequest, flow: Flow, edge?: string): RegisterData {
  return {
    // Stored for the binding's lifetime: own strings, not slices that keep the whole REGISTER alive.
    callId: ownCopy(req.callId),
    cseq: req.cseq.seq,
    contacts: req.getAll("contact").map(ownCopy),
    expires: req.get("expires"),
    gruu: req.getAll("supported").some((s) => s.trim().toLowerCase() === "gruu"),
    path: req.getAll("path").map(ownCopy),
    flow: { id: flow.id, transport: flow.transport, source: { address: flow.remote.address, port: flow.remote.port } },
    ...(edge !== undefined ? { edge } : {}),
  };
}

export class Registrar {
  readonly store = new LocationStore();
  readonly minExpires: number;
  readonly maxExpires: number;
  readonly defaultExpires: number;
  readonly maxContacts: number;

  constructor(opts: RegistrarOptions = {}) {
    this.maxContacts = opts.maxContacts ?? DEFAULT_MAX_CONTACTS;
    this.minExpires = opts.minExpires ?? 60;
    this.maxExpires = opts.maxExpires ?? 3600;
    this.defaultExpires = opts.defaultExpires ?? 3600;
  }

  /** Apply a REGISTER for `aor` (already authorized for it). `now`: wall-clock ms. */
  register(req: SipRequest, flow: Flow, aor: string, now: number): RegisterOutcome {
    return this.apply(aor, registerData(req, flow), now);
  }

  /** Apply the data of a REGISTER for `aor` (already authorized for it). `now`: wall-clock ms. */
  apply(aor: string, data: RegisterData, now: number): RegisterOutcome {
    const { contacts, callId, cseq } = data;
    const headerExpires = data.expires;
    const hdrExp = headerExpires !== undefined ? parseUInt(headerExpires) : undefined;
    if (headerExpires !== undefined && hdrExp === undefined) return { status: 400, reason: "invalid Expires" };

    if (contacts.length === 0) return this.ok(aor, now, data);

    if (contacts.some((c) => c.trim() === "*")) {
      if (contacts.length !== 1 || hdrExp !== 0) return { status: 400, reason: "Contact * needs Expires: 0 and no other contact" };
      for (const b of this.store.lookup(aor, now)) {
        if (b.callId === callId && cseq <= b.cseq) return { status: 400, reason: "CSeq out of order" };
      }
      this.store.removeAll(aor);
      return this.ok(aor, now, data);
    }

    const updates: Array<{ uri: string; contact: string; expires: number; q: number; instance: string | undefined; regId: number | undefined }> = [];
    for (const c of contacts) {
      const na = parseNameAddr(c);
      if (!na.ok) return { status: 400, reason: `invalid Contact: ${na.reason}` };
      const p = na.value.params;
      const expText = p.get("expires");
      let expires = expText !== undefined && expText !== null ? parseUInt(expText) : hdrExp;
      if (expText !== undefined && expires === undefined) return { status: 400, reason: "invalid Contact expires" };
      expires ??= this.defaultExpires;
      if (expires > 0 && expires < this.minExpires) return { status: 423, reason: "Interval Too Brief", minExpires: this.minExpires };
      expires = Math.min(expires, this.maxExpires);
      const qText = p.get("q");
      const q = qText === undefined || qText === null ? 1 : Number(qText);
      if (!Number.isFinite(q) || q < 0 || q > 1) return { status: 400, reason: "invalid q-value" };
      const instance = p.get("+sip.instance") ?? undefined;
      const regIdText = p.get("reg-id");
      const regId = regIdText ? parseUInt(regIdText) : undefined;
      updates.push({ uri: formatUri(na.value.uri), contact: c, expires, q, instance: instance ?? undefined, regId });
    }
    // Check the ordering of every affected binding before changing any (all or nothing).
    for (const u of updates) {
      const b = this.store.get(aor, u.uri);
      if (b && b.callId === callId && cseq <= b.cseq) return { status: 400, reason: "CSeq out of order" };
    }
    // Contacts per AOR: count what the AOR would hold after this REGISTER, before changing anything.
    const held = new Set(this.store.lookup(aor, now).map((b) => b.uri));
    for (const u of updates) {
      if (u.expires === 0) held.delete(u.uri);
      else held.add(u.uri);
      if (u.instance !== undefined && u.regId !== undefined) {
        for (const b of this.store.lookup(aor, now)) if (b.instance === u.instance && b.regId === u.regId && b.uri !== u.uri) held.delete(b.uri);
      }
    }
    if (held.size > this.maxContacts) return { status: 503, reason: `Service Unavailable (too many registered contacts, at most ${this.maxContacts})` };
    const path = data.path;
    for (const u of updates) {
      if (u.expires === 0) {
        this.store.remove(aor, u.uri);
        continue;
      }
      // RFC 5626 6: a new flow for the same instance and reg-id replaces the old binding.
      if (u.instance !== undefined && u.regId !== undefined) {
        for (const b of this.store.lookup(aor, now)) if (b.instance === u.instance && b.regId === u.regId && b.uri !== u.uri) this.store.remove(aor, b.uri);
      }
      this.store.put(aor, {
        uri: u.uri,
        contact: u.contact,
        expires: now + u.expires * 1000,
        q: u.q,
        callId,
        cseq,
        instance: u.instance,
        regId: u.regId,
        flowId: data.flow.id,
        transport: data.flow.transport,
        source: { ...data.flow.source },
        path,
        updatedAt: now,
        ...(data.edge !== undefined ? { edge: data.edge } : {}),
      });
    }
    return this.ok(aor, now, data);
  }

  /**
   * RFC 5626 flow failure: remove the bindings of `aor` learned over the
   * closed `flow` that only it reaches. Answers how many were removed (a
   * binding refreshed over a newer flow since is not touched).
   */
  dropFlow(aor: string, flow: FailedFlow, now: number): number {
    let n = 0;
    for (const b of this.store.lookup(aor, now)) {
      if (b.flowId === flow.id && b.edge === flow.edge && reachedOnlyOverFlow(b) && this.store.remove(aor, b.uri)) n++;
    }
    return n;
  }

  private ok(aor: string, now: number, data: RegisterData): RegisterOutcome {
    return { status: 200, aor, bindings: this.store.lookup(aor, now), gruu: data.gruu };
  }

  /** The Contact header values of a 200 OK to REGISTER. */
  static contactHeaders(outcome: Extract<RegisterOutcome, { status: 200 }>, now: number): string[] {
    return outcome.bindings.map((b) => {
      const na = parseNameAddr(b.contact);
      const base = na.ok ? `<${formatUri(na.value.uri)}>` : `<${b.uri}>`;
      let params = `;expires=${Math.max(0, Math.round((b.expires - now) / 1000))}`;
      if (b.q !== 1) params += `;q=${b.q}`;
      if (b.instance) {
        params += `;+sip.instance="${b.instance}"`;
        if (outcome.gruu) params += `;pub-gruu="sip:${outcome.aor};gr=${b.instance.replace(/^<|>$/g, "")}"`;
      }
      if (b.regId !== undefined) params += `;reg-id=${b.regId}`;
      return base + params;
    });
  }
}

/** The AOR a REGISTER is for: its To URI as user@host. */
export function registerAor(req: SipRequest): string | undefined {
  const to = req.to;
  return to ? aorOf(to.uri) : undefined;
}

