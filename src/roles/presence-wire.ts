/**
 * What the presence feature's nodes say to each other over the control
 * link (docs/presence.md): the edge hands a SUBSCRIBE or PUBLISH, as
 * plain data, to the first reachable holder of the presentity
 * (`presence.subscribe`, `presence.publish`); holders push a presentity's
 * whole state to each other (`presence.replicate`, the newer version
 * wins). Every payload and answer is validated with these schemas.
 */
import { z } from "zod";
import { HANDOFF_BATCH } from "./sip-location.js";

export const PRESENCE_SUBSCRIBE = "presence.subscribe";
export const PRESENCE_PUBLISH = "presence.publish";
export const PRESENCE_REPLICATE = "presence.replicate";
/** Subscriptions of one presentity in a replicated entry (the per-presentity watcher limit is lower). */
const MAX_ENTRY_SUBSCRIPTIONS = 2000;

const aor = z.string().min(3).max(512);
const uri = z.string().min(1).max(2048);
const reachSchema = z
  .object({
    flowId: z.string().max(256),
    transport: z.string().max(8),
    source: z.object({ address: z.string().max(64), port: z.number().int().min(0).max(65535) }).strict(),
    edge: z.string().max(128).optional(),
  })
  .strict();
export const dialogSchema = z
  .object({
    callId: z.string().min(1).max(512),
    localTag: z.string().min(1).max(128),
    remoteTag: z.string().min(1).max(256),
    localUri: uri,
    remoteUri: uri,
    remoteTarget: uri,
    routeSet: z.array(uri).max(16),
    eventId: z.string().max(128).optional(),
    contact: uri,
    reach: reachSchema,
  })
  .strict();
const pkg = z.enum(["presence", "presence.winfo", "xcap-diff"]);
/** xcap-diff resources: paths relative to the XCAP root (presence/xcap-diff.ts). */
const resources = z.array(z.string().min(1).max(512)).min(1).max(32);

export const subscribeCall = z
  .object({
    id: z.string().min(1).max(1024),
    initial: z.boolean(),
    event: pkg,
    presentity: aor,
    watcher: uri,
    expires: z.number().int().min(0).max(2 ** 32 - 1).optional(),
    dialog: dialogSchema,
    resources: resources.optional(),
  })
  .strict();
export type SubscribeCall = z.infer<typeof subscribeCall>;

/** The immediate NOTIFY of a subscription handled for another node: that edge sends it after its 200 (RFC 6665 4.2.1.2). */
export const firstNotify = z
  .object({ cseq: z.number().int().nonnegative(), state: z.string().max(128), contentType: z.string().max(128).optional(), body: z.string().max(1 << 20).optional() })
  .strict();
export type FirstNotify = z.infer<typeof firstNotify>;

export const subscribeReply = z
  .object({ status: z.number().int().min(200).max(699), reason: z.string().max(256).optional(), expires: z.number().int().nonnegative().optional(), minExpires: z.number().int().nonnegative().optional(), notify: firstNotify.optional() })
  .strict();
export type SubscribeReply = z.infer<typeof subscribeReply>;

export const publishCall = z
  .object({
    presentity: aor,
    ifMatch: z.string().min(1).max(128).optional(),
    expires: z.number().int().min(0).max(2 ** 32 - 1).optional(),
    body: z.string().max(1 << 20).optional(),
    contentType: z.string().max(256).optional(),
  })
  .strict();
export type PublishCall = z.infer<typeof publishCall>;

export const publishReply = z
  .object({ status: z.number().int().min(200).max(699), reason: z.string().max(256).optional(), etag: z.string().max(128).optional(), expires: z.number().int().nonnegative().optional(), minExpires: z.number().int().nonnegative().optional() })
  .strict();
export type PublishReply = z.infer<typeof publishReply>;

const subscriptionSchema = z
  .object({
    id: z.string().min(1).max(1024),
    package: pkg,
    presentity: aor,
    watcher: uri,
    state: z.enum(["pending", "active", "terminated"]),
    handling: z.enum(["block", "confirm", "polite-block", "allow"]),
    expiresAt: z.number().finite(),
    reason: z.enum(["deactivated", "probation", "rejected", "timeout", "giveup", "noresource", "invariant"]).optional(),
    notifies: z.number().int().nonnegative(),
    dialog: dialogSchema.optional(),
    resources: resources.optional(),
  })
  .strict();
const publicationSchema = z.object({ etag: z.string().min(1).max(128), body: z.string().max(1 << 20), expiresAt: z.number().finite() }).strict();
export const replicateCall = z
  .object({
    entries: z
      .array(
        z
          .object({
            aor,
            /** The holder's version (wall-clock ms, bumped by one when needed). */
            version: z.number().finite().nonnegative(),
            publications: z.array(publicationSchema).max(64),
            subscriptions: z.array(subscriptionSchema).max(MAX_ENTRY_SUBSCRIPTIONS),
          })
          .strict(),
      )
      .max(HANDOFF_BATCH),
  })
  .strict();
export type ReplicatedPresentity = z.infer<typeof replicateCall>["entries"][number];
