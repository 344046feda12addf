import { defineError } from "../base/index.js";

/** A `thor dns` setting that cannot work (bad zone name, name server, service). */
export const DnsConfigError = defineError("THOR_DNS_CONFIG", "DnsConfigError");
/** A UDP or TCP listener could not be opened. */
export const DnsListenError = defineError("THOR_DNS_LISTEN", "DnsListenError");
/** The external primary did not accept a dynamic update (RFC 2136), or could not be reached. */
export const DnsUpdateError = defineError("THOR_DNS_UPDATE", "DnsUpdateError");
