import { channel } from "../base/index.js";
import type { MembershipRefusal } from "./membership-feed.js";

/**
 * The lookup server closed or refused a connection: `line-too-long`,
 * `idle` (no request within the idle timeout) or `too-many-connections`.
 */
export const lookupClosedChannel = channel<{ remote: string; reason: "line-too-long" | "idle" | "too-many-connections" }>("thor:overlay:lookup-closed");

/**
 * The membership feed decided on a delta, beacon or table: `applied` (with
 * how many changes it carried), or why not (a `MembershipRefusal`:
 * `not-a-manager`, `not-newer`, `gap`, `new-term`, `digest-mismatch`, ...).
 */
export const membershipChannel = channel<{ verdict: "applied" | MembershipRefusal; members: number; changes: number }>("thor:overlay:membership");
