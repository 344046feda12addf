import { defineError } from "../base/index.js";

/** A control-link request to the SIP location service that does not validate. */
export const LocationRequestError = defineError("THOR_ROLES_LOCATION_REQUEST", "LocationRequestError");
/** A node asked for bindings before it applied its first membership. */
export const LocationNotReadyError = defineError("THOR_ROLES_LOCATION_NOT_READY", "LocationNotReadyError");
/** An `xcap.changed` notice that does not validate or comes from a member that is not a node. */
export const XcapNoticeError = defineError("THOR_ROLES_XCAP_NOTICE", "XcapNoticeError");
/** A control-link request to a media relay that does not validate, or from a caller that may not make it. */
export const MediaControlRequestError = defineError("THOR_ROLES_MEDIA_REQUEST", "MediaControlRequestError");
