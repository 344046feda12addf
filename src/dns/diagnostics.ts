import { channel } from "../base/index.js";

/** One query answered (or refused): for metrics. */
export const queryChannel = channel<{ transport: "udp" | "tcp"; qtype: string; rcode: string; truncated: boolean }>("thor:dns:query");
/** A packet that could not be decoded as a query; dropped or answered FORMERR. */
export const malformedChannel = channel<{ transport: "udp" | "tcp"; remote: string; reason: string; answered: boolean }>("thor:dns:malformed");
/** The zone content changed: new serial. */
export const zoneChannel = channel<{ serial: number; members: number; records: number }>("thor:dns:zone");
