import { randomUUID } from "node:crypto";
import type { EventBus, EventHandler, EventMeta, PublishOptions, PublisherIdentity } from "./bus.js";
import type { TopicMap, TopicName } from "./topics.js";

/**
 * In-process {@link EventBus}: several `LocalBus` endpoints attached to one
 * `LocalHub` see each other's publications (including their own, as with the
 * real event servers). Delivery is asynchronous (microtask) and payloads are
 * deep-copied, so code under test cannot rely on shared objects.
 */
export class LocalHub {
  private readonly handlers = new Map<TopicName, Map<(payload: unknown, meta: EventMeta) => void, PublisherIdentity>>();
  /** When false, publications are dropped (simulates a partition of everyone). */
  connected = true;

  attach(subject: Record<string, string>, roles: readonly string[] = ["*"], ips: readonly string[] = []): LocalBus {
    return new LocalBus(this, { subject, roles, ips });
  }

  /** @internal */
  deliver(topic: TopicName, payload: unknown, publisher: PublisherIdentity, options?: PublishOptions): void {
    if (!this.connected) return;
    const json = JSON.stringify(payload);
    const meta: EventMeta = { msgId: randomUUID(), publisher };
    const only = options?.to ? new Set(options.to) : undefined;
    queueMicrotask(() => {
      for (const [h, subscriber] of this.handlers.get(topic) ?? []) if (!only || only.has(subscriber.subject["CN"] ?? "")) h(JSON.parse(json), meta);
    });
  }

  /** @internal */
  on(topic: TopicName, h: (payload: unknown, meta: EventMeta) => void, subscriber: PublisherIdentity): () => void {
    let set = this.handlers.get(topic);
    if (!set) this.handlers.set(topic, (set = new Map()));
    set.set(h, subscriber);
    return () => set.delete(h);
  }
}

export class LocalBus implements EventBus {
  private readonly unsubs = new Set<() => void>();
  private closed = false;

  constructor(
    private readonly hub: LocalHub,
    private readonly identity: PublisherIdentity,
  ) {}

  publish<K extends TopicName>(topic: K, payload: TopicMap[K], options?: PublishOptions): boolean {
    if (this.closed) return false;
    this.hub.deliver(topic, payload, this.identity, options);
    return true;
  }

  subscribe<K extends TopicName>(topic: K, handler: EventHandler<K>): () => void {
    const off = this.hub.on(topic, (p, m) => {
      if (!this.closed) handler(p as TopicMap[K], m);
    }, this.identity);
    this.unsubs.add(off);
    return () => {
      off();
      this.unsubs.delete(off);
    };
  }

  /** Detach: no more deliveries or publications (simulates a crash). */
  close(): void {
    this.closed = true;
    for (const off of this.unsubs) off();
    this.unsubs.clear();
  }
}
