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
  type TopicName,
  type TopicMap,
  type LeaveNotice,
  type DatabaseAnnouncement,
  type ManagerHeartbeat,
  type StatisticsReport,
} from "./topics.js";
export type { EventBus, EventHandler, EventMeta, PublisherIdentity } from "./bus.js";
export { LocalHub, LocalBus } from "./local-bus.js";
