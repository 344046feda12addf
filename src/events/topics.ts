import { z } from "zod";
import { entitySchema, membershipMessageSchema, membershipRequestSchema, membershipTableSchema } from "../overlay/index.js";

/**
 * The typed topic map: every topic carried by the event servers, with the
 * zod schema its JSON payload must satisfy. Clients validate every incoming
 * payload against it and drop (with a log line) what does not match.
 */
export const leaveSchema = z.object({ id: z.string().min(1).max(128), ip: z.string().max(64) }).strict();

export const databaseAnnouncementSchema = z
  .object({
    /** e.g. `sqlite:///var/lib/thor/thor.db`, `postgres://db1:5432/thor` */
    dburi: z.string().min(1).max(2048),
    /** Lower is preferred; members pick the lowest `(priority, ip)`. */
    priority: z.number().int().min(0).max(65535),
    ip: z.string().max(64),
    id: z.string().min(1).max(128),
  })
  .strict();

export const managerHeartbeatSchema = z
  .object({
    id: z.string().min(1).max(128),
    ip: z.string().max(64),
    /** Lower wins the election among candidates. */
    priority: z.number().int().min(0).max(65535),
    /** The highest term this manager has seen or started. */
    term: z.number().int().nonnegative(),
    /** True while this manager considers itself the active one. */
    active: z.boolean(),
    /** Set in the last heartbeat of a manager that stops: others take over at once. */
    stopping: z.boolean().optional(),
    startedAt: z.number().int().nonnegative(),
  })
  .strict();

export const statisticsSchema = z
  .object({
    id: z.string().min(1).max(128),
    ip: z.string().max(64),
    at: z.number().int().nonnegative(),
    /** role name → counter name → value */
    roles: z.record(z.string().max(32), z.record(z.string().max(64), z.number())),
  })
  .strict();

/**
 * Published by a provisioning server after a committed change: the SIP
 * nodes responsible for the named AORs reload them from the database at once.
 */
export const provisioningChangeSchema = z
  .object({
    /** `user@domain` of every account whose data changed (created, updated, deleted, alias added or removed). */
    aors: z.array(z.string().min(3).max(512)).max(2000),
    /** Domains changed as a whole: every owned account of them is reloaded. */
    domains: z.array(z.string().min(1).max(253)).max(100).optional(),
    /** The trusted peer list changed. */
    trustedPeers: z.boolean().optional(),
    /** Wall-clock time of the commit (ms). */
    at: z.number().int().nonnegative(),
    /** The change's number in the database's change log (nodes that read the log skip what they were told). */
    seq: z.number().int().nonnegative().optional(),
  })
  .strict();

export const topicSchemas = {
  "Thor.Presence": entitySchema,
  "Thor.Leave": leaveSchema,
  /** Deltas and the periodic beacon of the active manager (docs/manager.md). */
  "Thor.Members": membershipMessageSchema,
  /** Parts of a full table, addressed to the members that asked. */
  "Thor.MembersTable": membershipTableSchema,
  /** A member asks the active manager for the full table. */
  "Thor.MembersRequest": membershipRequestSchema,
  "Thor.Statistics": statisticsSchema,
  "Thor.Database": databaseAnnouncementSchema,
  "Thor.Manager": managerHeartbeatSchema,
  "Thor.Provisioning": provisioningChangeSchema,
} as const;

export type TopicName = keyof typeof topicSchemas;
export type TopicMap = { [K in TopicName]: z.infer<(typeof topicSchemas)[K]> };
export type LeaveNotice = TopicMap["Thor.Leave"];
export type DatabaseAnnouncement = TopicMap["Thor.Database"];
export type ManagerHeartbeat = TopicMap["Thor.Manager"];
export type StatisticsReport = TopicMap["Thor.Statistics"];
export type ProvisioningChange = TopicMap["Thor.Provisioning"];

export const TOPICS = Object.keys(topicSchemas) as TopicName[];

export function isTopicName(name: string): name is TopicName {
  return Object.prototype.hasOwnProperty.call(topicSchemas, name);
}
