import { defineError } from "../base/index.js";

/** The peer is not a member, has no control port, or cannot be connected to. */
export const ControlUnreachableError = defineError("THOR_NODE_CONTROL_UNREACHABLE", "ControlUnreachableError");
/** No answer within the call's timeout. */
export const ControlTimeoutError = defineError("THOR_NODE_CONTROL_TIMEOUT", "ControlTimeoutError");
/** The connection closed before the answer arrived. */
export const ControlClosedError = defineError("THOR_NODE_CONTROL_CLOSED", "ControlClosedError");
/** The peer answered with an error (its code is in the message). */
export const ControlRemoteError = defineError("THOR_NODE_CONTROL_REMOTE", "ControlRemoteError");
/** A request or answer that cannot be sent: not JSON-serializable, or over the frame limit. */
export const ControlPayloadError = defineError("THOR_NODE_CONTROL_PAYLOAD", "ControlPayloadError");
