import { defineError } from "../base/index.js";

/** A control-link request to the SIP location service that does not validate. */
export const LocationRequestError = defineError("THOR_ROLES_LOCATION_REQUEST", "LocationRequestError");
