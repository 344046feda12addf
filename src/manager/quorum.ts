/**
 * When a manager may act: it hears the network only through a majority of
 * the event servers (docs/manager.md, "When the event servers are out of
 * reach"). Two managers that each hear a majority share at least one event
 * server, so they hear each other's heartbeats and the election settles on
 * one; a manager cut off with a minority can never be a second active one.
 */

/** The smallest majority of `servers` event servers (2 of 3, 3 of 4 or 5). */
export function eventServerQuorum(servers: number): number {
  return Math.floor(servers / 2) + 1;
}

/** What the quorum is counted on: the event client's links. */
export interface HeardLinks {
  /** Event servers known (listed or discovered). */
  readonly serverCount: number;
  /** Links up that delivered something within `withinMs`. */
  heardCount(withinMs: number): number;
}

/**
 * How recent a link's last frame must be for the manager to count it. It
 * pings every heartbeat. A manager cut off with a minority must fall silent
 * before it could expire the members it no longer hears: their last
 * presence reached it at most one presence interval (a third of the member
 * timeout by default) before the partition, so half the member timeout
 * leaves room for it. Members never hear it change anything on that side.
 */
export function hearingWindowMs(heartbeatMs: number, memberTimeoutMs: number): number {
  return Math.max(heartbeatMs, Math.floor(memberTimeoutMs / 2));
}

/** Whether links to a majority of the event servers delivered something within `withinMs`. */
export function hearsQuorum(links: HeardLinks, withinMs: number): boolean {
  return links.serverCount > 0 && links.heardCount(withinMs) >= eventServerQuorum(links.serverCount);
}
