/** sip/registrar — RFC 3261 10.3 registrar and the location store. */
export { Registrar, registerAor, type RegistrarOptions, type RegisterOutcome } from "./registrar.js";
export { LocationStore, type Binding } from "./location.js";
