import { defineError } from "../base/index.js";

/** A `thor dns` setting that cannot work (bad zone name, name server, service). */
export const DnsConfigError = defineError("THOR_DNS_CONFIG", "DnsConfigError");
/** A UDP or TCP listener could not be opened. */
export const DnsListenError = defineError("THOR_DNS_LISTEN", "DnsListenError");
