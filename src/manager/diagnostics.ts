import { channel } from "../base/index.js";

/** The manager's election state changed (listening, standby, active) with the term it holds or saw. */
export const electionChannel = channel<{ from: string; to: string; term: number }>("thor:manager:election");
