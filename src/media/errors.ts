import { defineError } from "../base/index.js";

/** The relay is draining: it keeps its sessions but takes no new one. */
export const RelayDrainingError = defineError("THOR_MEDIA_DRAINING", "RelayDrainingError");
/** No free port pair, or the session/stream limit is reached. */
export const RelayCapacityError = defineError("THOR_MEDIA_CAPACITY", "RelayCapacityError");
/** An answer or update for a call the relay has no session for. */
export const SessionNotFoundError = defineError("THOR_MEDIA_NO_SESSION", "SessionNotFoundError");
/** A request the relay cannot act on (an address of no family it listens on, a bad port). */
export const MediaRequestError = defineError("THOR_MEDIA_REQUEST", "MediaRequestError");
/** The rtpengine control peer failed, timed out or answered an error. */
export const RtpengineError = defineError("THOR_MEDIA_RTPENGINE", "RtpengineError");
