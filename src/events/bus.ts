import type { TopicMap, TopicName } from "./topics.js";

/**
 * Who published an event, as proven by the publisher's TLS certificate and
 * stamped by the event server (never taken from the payload).
 */
export interface PublisherIdentity {
  /** Subject attributes of the publisher's certificate (CN, O, OU, ...). */
  readonly subject: Readonly<Record<string, string>>;
  /** Roles the certificate allows its holder to announce (`*` = any). */
  readonly roles: readonly string[];
  /** IP addresses of the certificate's SubjectAltName (where the member may announce itself). */
  readonly ips?: readonly string[];
}

export interface EventMeta {
  /** Unique message id chosen by the publisher; duplicates are dropped. */
  readonly msgId: string;
  readonly publisher: PublisherIdentity;
}

/** How a publication is delivered. */
export interface PublishOptions {
  /**
   * Deliver only to subscribers whose certificate CN is listed (at most
   * MAX_ADDRESSEES): an answer meant for a few members, e.g. a full
   * membership table, instead of a broadcast. @default everyone subscribed
   */
  readonly to?: readonly string[];
}

export type EventHandler<K extends TopicName> = (payload: TopicMap[K], meta: EventMeta) => void;

/**
 * The contract every member codes against: publish to the network, subscribe
 * to topics. The production implementation is `EventClient` (connects to all
 * event servers, publishes to all, drops duplicates); tests may use
 * `LocalBus`, an in-process implementation with the same semantics.
 */
export interface EventBus {
  /** Returns false when no event server took it (it is dropped, not queued). */
  publish<K extends TopicName>(topic: K, payload: TopicMap[K], options?: PublishOptions): boolean;
  /** Returns an unsubscribe function. */
  subscribe<K extends TopicName>(topic: K, handler: EventHandler<K>): () => void;
}
