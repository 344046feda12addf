import { channel } from "../base/index.js";

/** A client's link to one event server changed state. */
export const linkChannel = channel<{ endpoint: string; state: "up" | "down"; reason?: string }>("thor:events:link");
/** An event server relayed a publication: its topic, frame size and how many subscribers it went to (drops: `slowDisconnects`). */
export const publishChannel = channel<{ topic: string; bytes: number; subscribers: number }>("thor:events:publish");
/** An event server refused or dropped a connection. */
export const refusedChannel = channel<{ remote: string; reason: string }>("thor:events:refused");
