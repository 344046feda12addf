/**
 * events/ — floor 2. The publish/subscribe system of the network: typed
 * topics, the EventBus contract, the wire codec (sans-IO), the event server
 * (`thor eventserver`) and the client that connects to all event servers.
 * May import base/, overlay/, pki/.
 */
export {
  topicSchemas,
  TOPICS,
  isTopicName,
  leaveSchema,
  databaseAnnouncementSchema,
  managerHeartbeatSchema,
  statisticsSchema,
  provisioningChangeSchema,
  type TopicName,
  type TopicMap,
  type LeaveNotice,
  type DatabaseAnnouncement,
  type ManagerHeartbeat,
  type StatisticsReport,
  type ProvisioningChange,
} from "./topics.js";
export type { EventBus, EventHandler, EventMeta, PublisherIdentity, PublishOptions } from "./bus.js";
export { LocalHub, LocalBus } from "./local-bus.js";
export {
  FrameType,
  FrameDecoder,
  encodeFrame,
  encodeRaw,
  decodeBody,
  DEFAULT_MAX_FRAME,
  type Frame,
  type FrameTypeCode,
  type DecodeResult,
} from "./frame-codec.js";
export { EventServer, DEFAULT_PUBLISH_POLICY, type EventServerOptions, type EventServerStats } from "./server.js";
export { EventClient, type EventClientOptions, type LinkState, type LinkStatus } from "./client.js";
export { discoverEventServers, parseEndpoint, endpointKey, type Endpoint, type SrvDiscoveryOptions } from "./discovery.js";
export { EventsDiscoveryError, EventsClosedError, FrameTooLargeError } from "./errors.js";
export { linkChannel, refusedChannel, publishChannel } from "./diagnostics.js";
export {
  DEFAULT_EVENT_PORT,
  DEFAULT_SERVER_PASSPORTS,
  DEFAULT_MAX_QUEUE_BYTES,
  DEFAULT_IDLE_TIMEOUT_MS,
  DEFAULT_PING_INTERVAL_MS,
  DEFAULT_RECONNECT_BASE_MS,
  DEFAULT_RECONNECT_MAX_MS,
  DEFAULT_DEDUP_WINDOW,
  MAX_ADDRESSEES,
} from "./options.js";
