import { channel } from "../base/index.js";

/**
 * The lookup server closed or refused a connection: `line-too-long`,
 * `idle` (no request within the idle timeout) or `too-many-connections`.
 */
export const lookupClosedChannel = channel<{ remote: string; reason: "line-too-long" | "idle" | "too-many-connections" }>("thor:overlay:lookup-closed");

/**
 * The membership feed decided on a `Thor.Members` snapshot: `applied` (with
 * how many changes it carried), or ignored as `not-a-manager` or `not-newer`.
 */
export const membershipChannel = channel<{ verdict: "applied" | "not-a-manager" | "not-newer"; members: number; changes: number }>("thor:overlay:membership");
