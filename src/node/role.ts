/**
 * The contract between the node and the roles it runs. A role is a module
 * with a name, a lifecycle, what it adds to the node's announcement and how
 * it reacts to membership changes. Later issues plug the SIP proxy, media
 * relay, provisioning etc. in here.
 */
import type { Clock, Logger } from "../base/index.js";
import type { DatabaseAnnouncement, EventBus } from "../events/index.js";
import type { Entity, MembershipSnapshot, MembershipUpdate, RoleMap } from "../overlay/index.js";
import type { TlsIdentity } from "../pki/index.js";
import type { ControlLink } from "./control/link.js";

export interface RoleContext {
  readonly bus: EventBus;
  readonly logger: Logger;
  readonly clock: Clock;
  /** This node's entity as currently announced. */
  self(): Entity;
  /** The current role map, once the first snapshot arrived. */
  roleMap(): RoleMap | undefined;
  /** The last accepted membership snapshot. */
  snapshot(): MembershipSnapshot | undefined;
  /** The preferred database, once one is announced. */
  database(): DatabaseAnnouncement | undefined;
  /** The node's one directory of announced databases (roles open their connections from it). */
  readonly databases: DatabaseView;
  /** Request/response with other members (absent in tests that run a node without one). */
  readonly control: ControlLink | undefined;
  /** The node's certificate, for member-to-member links of its roles. */
  readonly identity: TlsIdentity | undefined;
  /**
   * Why this node must not serve as a member now, or undefined: it hears no
   * manager while its peers hold a newer membership or none answers
   * (src/node/cut-off.ts). Roles refuse new work meanwhile.
   */
  cutOff?(): string | undefined;
  /** Whether the node is draining (`self().attrs.draining`, without building the entity: a per-request check). */
  draining?(): boolean;
}

/** What a role sees of the node's database directory. */
export interface DatabaseView {
  /** Every live announcement, preferred first (primary, then secondaries). */
  all(): DatabaseAnnouncement[];
  /** Called when the set of live databases (uri and priority) changes; returns an unsubscribe function. */
  onChange(listener: (databases: DatabaseAnnouncement[]) => void): () => void;
}

export interface RoleReadiness {
  ok: boolean;
  detail?: string;
}

export interface RoleAdvertisement {
  ports?: Record<string, number>;
  attrs?: Record<string, string | number | boolean>;
}

export interface Role {
  readonly name: string;
  start(ctx: RoleContext): Promise<void>;
  stop(): Promise<void>;
  /** Merged into the node's entity at every announcement. */
  advertise?(): RoleAdvertisement;
  /** Called after every accepted snapshot that changed members or the manager term. */
  onMembership?(update: MembershipUpdate): void;
  /** Counters published on `Thor.Statistics`. */
  statistics?(): Record<string, number>;
  /** Whether the role can serve (e.g. its database is reachable); shown on `/ready`, without secrets. */
  readiness?(): RoleReadiness;
}

/** A role that is announced (it takes part in its ring) but has no engine yet. */
export class AdvertisedRole implements Role {
  constructor(readonly name: string) {}
  async start(): Promise<void> {}
  async stop(): Promise<void> {}
}
