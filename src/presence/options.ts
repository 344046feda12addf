/** Subscription duration when a SUBSCRIBE has no Expires (RFC 3856 6.4). @default 3600 */
export const DEFAULT_SUBSCRIBE_EXPIRES = 3600;
/** Shortest subscription accepted (423 Interval Too Brief below it, RFC 6665 4.2.1.1). @default 60 */
export const DEFAULT_MIN_SUBSCRIBE_EXPIRES = 60;
/** Longest subscription granted (longer requests are shortened). @default 7200 */
export const DEFAULT_MAX_SUBSCRIBE_EXPIRES = 7200;
/** Publication duration when a PUBLISH has no Expires (RFC 3903 4.1 leaves it to the package). @default 3600 */
export const DEFAULT_PUBLISH_EXPIRES = 3600;
/** Shortest publication accepted (423 below it). @default 60 */
export const DEFAULT_MIN_PUBLISH_EXPIRES = 60;
/** Longest publication granted. @default 7200 */
export const DEFAULT_MAX_PUBLISH_EXPIRES = 7200;
/** Largest PIDF body of a PUBLISH (bytes). @default 16384 */
export const DEFAULT_MAX_PUBLICATION_BYTES = 16_384;
/** Publications of one presentity (its devices). @default 16 */
export const DEFAULT_MAX_PUBLICATIONS = 16;
/** Watchers of one presentity. @default 500 */
export const DEFAULT_MAX_WATCHERS = 500;
/** Subscriptions one watcher may hold (over all presentities of a node). @default 200 */
export const DEFAULT_MAX_SUBSCRIPTIONS_PER_WATCHER = 200;

/** The event packages this notifier serves (others get 489 Bad Event). */
export const PRESENCE_PACKAGES = ["presence", "presence.winfo", "xcap-diff"] as const;
export type PresencePackage = (typeof PRESENCE_PACKAGES)[number];

export interface PresenceLimits {
  minSubscribeExpires: number;
  maxSubscribeExpires: number;
  defaultSubscribeExpires: number;
  minPublishExpires: number;
  maxPublishExpires: number;
  defaultPublishExpires: number;
  maxPublicationBytes: number;
  maxPublications: number;
  maxWatchers: number;
  maxSubscriptionsPerWatcher: number;
}

export const DEFAULT_PRESENCE_LIMITS: PresenceLimits = {
  minSubscribeExpires: DEFAULT_MIN_SUBSCRIBE_EXPIRES,
  maxSubscribeExpires: DEFAULT_MAX_SUBSCRIBE_EXPIRES,
  defaultSubscribeExpires: DEFAULT_SUBSCRIBE_EXPIRES,
  minPublishExpires: DEFAULT_MIN_PUBLISH_EXPIRES,
  maxPublishExpires: DEFAULT_MAX_PUBLISH_EXPIRES,
  defaultPublishExpires: DEFAULT_PUBLISH_EXPIRES,
  maxPublicationBytes: DEFAULT_MAX_PUBLICATION_BYTES,
  maxPublications: DEFAULT_MAX_PUBLICATIONS,
  maxWatchers: DEFAULT_MAX_WATCHERS,
  maxSubscriptionsPerWatcher: DEFAULT_MAX_SUBSCRIPTIONS_PER_WATCHER,
};
