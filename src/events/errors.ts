import { defineError } from "../base/index.js";

export const EventsDiscoveryError = defineError("THOR_EVENTS_DISCOVERY", "EventsDiscoveryError");
export const EventsClosedError = defineError("THOR_EVENTS_CLOSED", "EventsClosedError");
