/**
 * monitor/ — floor 4. Views of the network built from events: the state
 * behind `thor monitor` and its terminal rendering. May import events/,
 * overlay/, node/ (types), base/.
 */
export { NetworkView, type NetworkEvent } from "./network-view.js";
export { renderNetwork } from "./render.js";
