/**
 * roles/ — floor 4. Thin adapters that bind the engines (sip/, ...) to the
 * node: each implements the `Role` contract of node/.
 */
export { SipProxyRole, DEFAULT_SIP_INTERNAL_PORT, type SipProxyRoleOptions } from "./sip-proxy.js";
export { DistributedLocation, pickHolders, restartedMembers, SIP_HOST_ATTR, DEFAULT_REPLICAS, HANDOFF_BATCH, MAX_CLOCK_SKEW_MS, MAX_REPLICATED_EXPIRY_MS, type DistributedLocationOptions, type LocationStats, type ReplicaEntry } from "./sip-location.js";
export { LocationRequestError, LocationNotReadyError, MediaControlRequestError } from "./errors.js";
export { ProvisioningServerRole, type ProvisioningRoleOptions } from "./provisioning.js";
export { SubscriberBinding, type SubscriberBindingOptions } from "./subscribers.js";
export { XcapServerRole, ProvisionedXcapAuthenticator, type XcapRoleOptions } from "./xcap.js";
export { XcapChangeNotifier, XcapChangeReceiver, XCAP_CHANGED_METHOD, type XcapChangeNotifierOptions } from "./xcap-changes.js";
export { followDatabases, type FollowDatabasesOptions, type FollowedDatabases } from "./databases.js";
export { XcapNoticeError } from "./errors.js";
export { MediaRelayRole } from "./media-relay.js";
export { MediaDispatcher, DEFAULT_NAT_POLICY, DEFAULT_RELAY_TIMEOUT_MS, DEFAULT_RELAY_PENALTY_MS, DEFAULT_MAX_CALLS, type NatPolicy, type MediaDispatcherOptions, type DispatcherStats } from "./media-dispatcher.js";
export { readSdp, rewriteSdp, isPrivateAddress, MAX_SDP_BYTES, MAX_SDP_STREAMS, type SdpRead } from "./media-sdp.js";
export { presenceFeature, presenceStatistics, type PresenceFeature, type PresenceFeatureOptions } from "./presence-feature.js";
export { PresenceAgent, MAX_CACHED_RULES, type PresenceAgentOptions, type PresenceStats } from "./presence-agent.js";
export { PresenceInterceptor, type PresenceInterceptorOptions, type PresenceRouter } from "./presence-interceptor.js";
