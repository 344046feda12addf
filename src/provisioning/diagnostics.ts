import { channel } from "../base/index.js";

/** One API request answered (status, route pattern, duration). */
export const requestChannel = channel<{ method: string; route: string; status: number; ms: number }>("thor:provisioning:request");
/** A committed change was announced to the nodes. */
export const changeChannel = channel<{ aors: number; domains: number }>("thor:provisioning:change");
/** A subscriber cache loaded its slice or refreshed accounts. */
export const cacheChannel = channel<{ event: "load" | "refresh"; accounts: number; ms: number }>("thor:provisioning:cache");
