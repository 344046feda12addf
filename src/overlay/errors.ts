import { defineError } from "../base/index.js";

/** A ring was asked for with impossible parameters (multiply < 1, too many nodes). */
export const RingConfigError = defineError("THOR_OVERLAY_RING_CONFIG", "RingConfigError");
/** The lookup server did not answer within the client's timeout. */
export const LookupTimeoutError = defineError("THOR_OVERLAY_LOOKUP_TIMEOUT", "LookupTimeoutError");
/** The lookup connection failed or was closed before the answer arrived. */
export const LookupClosedError = defineError("THOR_OVERLAY_LOOKUP_CLOSED", "LookupClosedError");
/** The lookup server answered `error: <reason>`; the message is the reason. */
export const LookupAnswerError = defineError("THOR_OVERLAY_LOOKUP_ANSWER", "LookupAnswerError");
/** A request line the client refuses to send (it would break the line framing). */
export const LookupRequestError = defineError("THOR_OVERLAY_LOOKUP_REQUEST", "LookupRequestError");
