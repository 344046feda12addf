import { channel } from "../base/index.js";

/** One XCAP request answered (method, application usage, status, duration). */
export const xcapRequestChannel = channel<{ method: string; auid: string; status: number; ms: number }>("thor:xcap:request");
/** A document was written or deleted (committed). */
export const xcapChangeChannel = channel<{ auid: string; xui: string; document: string; deleted: boolean }>("thor:xcap:change");
