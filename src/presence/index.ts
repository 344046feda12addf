/**
 * presence/ — floor 1. The presence engine, sans-IO: the notifier side of
 * RFC 6665 subscriptions, RFC 3903 publications, PIDF composition (RFC
 * 3863, RPID passed through), pres-rules evaluation (RFC 5025 over RFC
 * 4745) and watcher information (RFC 3857/3858), with replicable state per
 * presentity. Not wired into the SIP pipeline yet (see docs/presence.md).
 * Imports only base/.
 */
export { PresenceNotifier, type PresenceNotifierOptions, type Notification, type PresentityEntry, type SubscribeRequest, type SubscribeAnswer } from "./notifier.js";
export { Subscription, subscriptionStateHeader, grantExpires, type SubscriptionRecord, type NotifyDialog, type SubscriptionState, type TerminationReason, type Handling, type NotifyAction, type SubscribeOutcome } from "./subscription.js";
export { PublicationStore, type Publication, type PublicationEntry, type PublishRequest, type PublishOutcome } from "./publication.js";
export { composePidf, offlinePidf, checkPidf, PIDF_NS } from "./pidf.js";
export { PresRules, identityOf, CP_NS, PR_NS, type WatcherContext } from "./pres-rules.js";
export { watcherInfoDocument, WINFO_NS } from "./winfo.js";
export { covers, parseXcapDiffResources, xcapDiffDocument, xcapSel, MAX_XCAP_DIFF_RESOURCES, RESOURCE_LISTS_NS, XCAP_DIFF_NS, XCAP_DIFF_TYPE, type XcapDocumentDiff, type XcapDocumentState } from "./xcap-diff.js";
export {
  PRESENCE_PACKAGES,
  DEFAULT_PRESENCE_LIMITS,
  DEFAULT_SUBSCRIBE_EXPIRES,
  DEFAULT_MIN_SUBSCRIBE_EXPIRES,
  DEFAULT_MAX_SUBSCRIBE_EXPIRES,
  DEFAULT_PUBLISH_EXPIRES,
  DEFAULT_MIN_PUBLISH_EXPIRES,
  DEFAULT_MAX_PUBLISH_EXPIRES,
  DEFAULT_MAX_PUBLICATION_BYTES,
  DEFAULT_MAX_PUBLICATIONS,
  DEFAULT_MAX_WATCHERS,
  DEFAULT_MAX_SUBSCRIPTIONS_PER_WATCHER,
  type PresenceLimits,
  type PresencePackage,
} from "./options.js";
