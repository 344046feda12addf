import { defineError } from "../base/index.js";

export const EventsDiscoveryError = defineError("THOR_EVENTS_DISCOVERY", "EventsDiscoveryError");
export const EventsClosedError = defineError("THOR_EVENTS_CLOSED", "EventsClosedError");
/** A publication larger than the event servers' frame limit: refused before it is sent (the servers would skip it). */
export const FrameTooLargeError = defineError("THOR_EVENTS_FRAME_TOO_LARGE", "FrameTooLargeError");
