/**
 * Payloads of the relay's control methods (`media.offer`, `media.answer`,
 * `media.update`, `media.delete`, `media.query`; docs/media.md), validated
 * with zod: every count, string and number is bounded, so a request costs
 * the relay little whatever it holds. Sans-IO: the methods travel on the
 * node's control link; the role adapter binds them to the engine.
 */
import { z } from "zod";
import { DEFAULT_MEDIA_MAX_STREAMS } from "./options.js";

const address = z.string().min(2).max(64);
const port = z.number().int().min(0).max(65535);

export const streamTargetSchema = z
  .object({ address, port, rtcpPort: port.optional(), rtcpMux: z.boolean().optional(), clockRate: z.number().int().min(1000).max(200_000).optional() })
  .strict();

/** `media.offer`, `media.answer`, `media.update`: one party's description of the call's streams. */
export const mediaDescriptionSchema = z
  .object({ callId: z.string().min(1).max(256), tag: z.string().min(1).max(128), streams: z.array(streamTargetSchema).max(DEFAULT_MEDIA_MAX_STREAMS) })
  .strict();

/** `media.delete`: the call, and why (logged, and in the final counters' event). */
export const mediaDeleteSchema = z.object({ callId: z.string().min(1).max(256), reason: z.string().max(64).optional() }).strict();

/** `media.query`: one call's counters, or (no callId) the relay's statistics. */
export const mediaQuerySchema = z.object({ callId: z.string().min(1).max(256).optional() }).strict();

/** The answer to offer/answer/update: where the party's peer must send each stream. */
export const relayedStreamsSchema = z.object({ streams: z.array(z.object({ address, port, rtcpPort: port }).strict()).max(DEFAULT_MEDIA_MAX_STREAMS) }).strict();

export type MediaDescriptionPayload = z.infer<typeof mediaDescriptionSchema>;
