import { channel } from "../base/index.js";

/** The database used for reads or writes changed: `role` is `primary` or `secondary`, `uri` is redacted. */
export const failoverChannel = channel<{ event: "primary-down" | "primary-up" | "read-from-secondary"; uri: string; cause?: string }>("thor:db:failover");
