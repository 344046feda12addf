/** sip/registrar — RFC 3261 10.3 registrar and the location store. */
export { Registrar, DEFAULT_MAX_CONTACTS, registerAor, registerData, type RegistrarOptions, type RegisterOutcome, type RegisterData } from "./registrar.js";
export { LocationStore, type Binding, type LocationService } from "./location.js";
export { LocalLocation } from "./local-location.js";
