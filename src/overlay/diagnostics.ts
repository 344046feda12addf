import { channel } from "../base/index.js";

/**
 * The lookup server closed or refused a connection: `line-too-long`,
 * `idle` (no request within the idle timeout) or `too-many-connections`.
 */
export const lookupClosedChannel = channel<{ remote: string; reason: "line-too-long" | "idle" | "too-many-connections" }>("thor:overlay:lookup-closed");
