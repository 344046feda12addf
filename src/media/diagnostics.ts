/** Diagnostics channels of the media engine (subscribed to by monitor/ by name). */
import { channel } from "../base/index.js";
import type { SessionSummary } from "./session.js";

/** A session was created or ended (with its final counters). */
export const sessionChannel = channel<{ type: "created" | "ended"; callId: string; reason?: string; summary: SessionSummary }>("thor:media:session");
