/**
 * The `media_relay` role: a media engine (the built-in relay, or rtpengine
 * through its ng protocol) served to the sip_proxy nodes' dispatchers over
 * the control link (`media.offer|answer|update|delete|query`, see
 * docs/media.md). It advertises `media_status` (active | draining) and
 * publishes its counters on `Thor.Statistics`.
 */
import type { z } from "zod";
import type { Logger } from "../base/index.js";
import { mediaDeleteSchema, mediaDescriptionSchema, mediaQuerySchema, type MediaEngine } from "../media/index.js";
import type { Role, RoleAdvertisement, RoleContext } from "../node/index.js";
import type { PeerIdentity } from "../pki/index.js";
import { MediaControlRequestError } from "./errors.js";

function parse<T>(schema: z.ZodType<T>, payload: unknown, method: string): T {
  const r = schema.safeParse(payload);
  if (!r.success) throw new MediaControlRequestError(`invalid ${method}: ${r.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ")}`);
  return r.data;
}

function requireNode(peer: PeerIdentity, method: string): void {
  if (peer.subject["OU"] !== "node") throw new MediaControlRequestError(`${method} is for nodes; ${peer.subject["CN"] ?? "?"} has OU=${peer.subject["OU"] ?? "none"}`);
}

export class MediaRelayRole implements Role {
  readonly name = "media_relay";
  private log: Logger | undefined;
  private ctx: RoleContext | undefined;
  private lastBytes = 0;
  private lastAt = 0;

  constructor(readonly engine: MediaEngine) {}

  async start(ctx: RoleContext): Promise<void> {
    this.ctx = ctx;
    this.log = ctx.logger;
    await this.engine.start();
    this.lastAt = ctx.clock.now();
    const control = ctx.control;
    if (control) {
      // The node's drain (an attribute of its entity) is the relay's: no new sessions, current ones kept.
      const describe = (method: string) => (p: unknown, peer: PeerIdentity) => {
        requireNode(peer, method);
        const d = parse(mediaDescriptionSchema, p, method);
        this.draining();
        return (method === "media.offer" ? this.engine.offer(d) : this.engine.update(d)).then((streams) => ({ streams }));
      };
      control.handle("media.offer", describe("media.offer"));
      control.handle("media.answer", describe("media.answer"));
      control.handle("media.update", describe("media.update"));
      control.handle("media.delete", async (p, peer) => {
        requireNode(peer, "media.delete");
        const d = parse(mediaDeleteSchema, p, "media.delete");
        return (await this.engine.delete(d.callId, d.reason ?? "deleted")) ?? null;
      });
      // Read-only: nodes and operator tools (OU=monitor).
      control.handle("media.query", async (p) => {
        const q = parse(mediaQuerySchema, p, "media.query");
        return q.callId === undefined ? { ...this.engine.statistics(), calls: this.engine.callIds(100) } : ((await this.engine.query(q.callId)) ?? null);
      });
    }
    this.log.info({ engine: this.engine.kind }, "media relay started");
  }

  async stop(): Promise<void> {
    await this.engine.stop();
  }

  /** The node's drain flag (its entity's `draining` attribute), handed to the engine. */
  private draining(): boolean {
    const draining = this.ctx?.self().attrs["draining"] === true;
    this.engine.setDraining(draining);
    return draining;
  }

  /** Must not call `ctx.self()` (which merges this advertisement): the engine keeps the flag seen last. */
  advertise(): RoleAdvertisement {
    return { attrs: { media_status: this.engine.statistics().draining ? "draining" : "active", media_engine: this.engine.kind } };
  }

  /** sessions, streams, bps relayed since the last publication, ports in use, draining (0|1), and the drop counters. */
  statistics(): Record<string, number> {
    this.draining();
    const s = this.engine.statistics();
    const now = this.ctx?.clock.now() ?? 0;
    const seconds = Math.max(0.001, (now - this.lastAt) / 1000);
    const bps = Math.round(((s.bytesRelayed - this.lastBytes) * 8) / seconds);
    this.lastBytes = s.bytesRelayed;
    this.lastAt = now;
    return { sessions: s.sessions, streams: s.streams, bps, portsInUse: s.portsInUse, packetsRelayed: s.packetsRelayed, bytesRelayed: s.bytesRelayed, dropped: s.dropped, draining: s.draining ? 1 : 0 };
  }
}
