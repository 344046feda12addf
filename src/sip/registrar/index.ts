/** sip/registrar — RFC 3261 10.3 registrar and the location store. */
export { Registrar, DEFAULT_MAX_CONTACTS, registerAor, registerData, type RegistrarOptions } from "./registrar.js";
export { LocationUnavailableError, LOCATION_RETRY_AFTER_S, reachedOnlyOverFlow, type FailedFlow, type Binding, type LocationService, type LocationStoreView, type RegisterData, type RegisterOutcome } from "./location.js";
export { LocationStore } from "./location-store.js";
export { LocalLocation } from "./local-location.js";
export { RegistrarUas, type RegistrarUasOptions } from "./registrar-uas.js";
export { FlowWatch, MAX_AORS_PER_FLOW, type FlowWatchOptions } from "./flow-watch.js";
