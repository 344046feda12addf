/**
 * The production {@link EventBus}: one mutual-TLS link to every event server,
 * publications sent on all links, subscriptions held on all links, duplicate
 * deliveries (the same message through several servers) dropped by message
 * id, payloads validated against the topic schemas. Links reconnect with
 * backoff and resubscribe; the server set is refreshed from discovery.
 */
import type tls from "node:tls";
import { randomUUID } from "node:crypto";
import { backoffDelay, describeError, systemClock, type Clock, type Logger, type TimerHandle } from "../base/index.js";
import { formatSubject, MemberLink, type Passport, type TlsIdentity } from "../pki/index.js";
import type { EventBus, EventHandler, EventMeta, PublishOptions } from "./bus.js";
import { encodeFrame, encodeRaw, FrameDecoder, FrameType, DEFAULT_MAX_FRAME, type Frame } from "./frame-codec.js";
import { isTopicName, topicSchemas, type TopicMap, type TopicName } from "./topics.js";
import { endpointKey, type Endpoint } from "./discovery.js";
import { linkChannel } from "./diagnostics.js";
import { EventsClosedError, FrameTooLargeError } from "./errors.js";
import {
  DEFAULT_DEDUP_WINDOW,
  DEFAULT_DISCOVERY_INTERVAL_MS,
  DEFAULT_IDLE_TIMEOUT_MS,
  DEFAULT_PING_INTERVAL_MS,
  DEFAULT_RECONNECT_BASE_MS,
  DEFAULT_RECONNECT_MAX_MS,
  DEFAULT_SERVER_PASSPORTS,
} from "./options.js";

export interface EventClientOptions {
  identity: TlsIdentity;
  logger: Logger;
  /** A static list, or a discovery function called at start and every `discoveryIntervalMs`. */
  servers: Endpoint[] | (() => Promise<Endpoint[]>);
  /**
   * Which event servers we trust (their certificate stamps every publisher
   * identity we act on). @default DEFAULT_SERVER_PASSPORTS (OU=eventserver); an empty list means the default
   */
  serverPassports?: Passport[];
  clock?: Clock;
  discoveryIntervalMs?: number;
  pingIntervalMs?: number;
  idleTimeoutMs?: number;
  reconnectBaseMs?: number;
  reconnectMaxMs?: number;
  dedupWindow?: number;
  maxFrame?: number;
}

export type LinkState = "connecting" | "up" | "down";

export interface LinkStatus {
  endpoint: string;
  state: LinkState;
  /** Name the server announced in WELCOME. */
  server: string | undefined;
  since: number;
  lastError: string | undefined;
}

type AnyHandler = (payload: unknown, meta: EventMeta) => void;

class Link {
  socket: tls.TLSSocket | undefined;
  state: LinkState = "down";
  server: string | undefined;
  since: number;
  lastError: string | undefined;
  attempt = 0;
  retry: TimerHandle | undefined;
  ping: ReturnType<typeof setInterval> | undefined;
  removed = false;
  /** Serial of the server certificate: names the link when the member link cuts it (revoked). */
  serial: string | undefined;
  /** Monotonic time (clock.now) the last frame arrived from this server. */
  heardAt = 0;

  constructor(
    readonly endpoint: Endpoint,
    readonly key: string,
    now: number,
  ) {
    this.since = now;
  }
}

export class EventClient implements EventBus {
  private readonly links = new Map<string, Link>();
  private readonly handlers = new Map<string, Set<AnyHandler>>();
  private readonly seen = new Set<string>();
  private readonly linkListeners = new Set<(status: LinkStatus) => void>();
  private readonly clock: Clock;
  private readonly log: Logger;
  private discoveryTimer: TimerHandle | undefined;
  private closed = false;
  private readonly link: MemberLink;
  /** Publications sent on at least one link / dropped because no link was up. */
  readonly counters = { published: 0, unsent: 0, received: 0, duplicates: 0, invalid: 0 };

  constructor(private readonly opts: EventClientOptions) {
    this.clock = opts.clock ?? systemClock;
    this.log = opts.logger;
    // The shared member link checks each server (CA, current CRL, passport, dialled IP in its certificate) and cuts revoked ones.
    this.link = new MemberLink({
      identity: opts.identity,
      passports: opts.serverPassports?.length ? opts.serverPassports : DEFAULT_SERVER_PASSPORTS,
      onRefused: ({ reason, remote, peer }) => {
        const link = peer ? [...this.links.values()].find((l) => l.serial === peer.serial) : undefined;
        if (link) link.lastError = `event server ${reason}`;
        this.log.warn({ endpoint: link?.key ?? remote, reason }, "event server refused");
      },
    });
  }

  /** Discover the servers and start connecting (does not wait for links). */
  async start(): Promise<void> {
    await this.refreshServers();
  }

  /**
   * Publish on every link that is up; false when none was (the event is
   * dropped, not queued). Throws `FrameTooLargeError` when the frame would
   * exceed the frame limit (the servers would skip it): the caller learns
   * at once, instead of the event being lost on the way.
   */
  publish<K extends TopicName>(topic: K, payload: TopicMap[K], options?: PublishOptions): boolean {
    if (this.closed) throw new EventsClosedError("event client is closed");
    const body = options?.to ? { topic, msgId: randomUUID(), payload, to: [...options.to] } : { topic, msgId: randomUUID(), payload };
    const buf = encodeFrame({ type: FrameType.PUBLISH, body });
    const max = this.opts.maxFrame ?? DEFAULT_MAX_FRAME;
    if (buf.length - 5 > max) throw new FrameTooLargeError(`${topic} publication of ${buf.length - 5} bytes exceeds the event servers' frame limit of ${max} bytes`);
    let sent = false;
    for (const link of this.links.values()) {
      if (link.state === "up" && link.socket?.writable) {
        link.socket.write(buf);
        sent = true;
      }
    }
    if (sent) this.counters.published++;
    else {
      this.counters.unsent++;
      this.log.debug({ topic }, "no event server reachable, publication dropped");
    }
    return sent;
  }

  subscribe<K extends TopicName>(topic: K, handler: EventHandler<K>): () => void {
    let set = this.handlers.get(topic);
    if (!set) {
      this.handlers.set(topic, (set = new Set()));
      this.sendAll({ type: FrameType.SUBSCRIBE, body: { topics: [topic] } });
    }
    const h = handler as AnyHandler;
    set.add(h);
    return () => {
      const s = this.handlers.get(topic);
      if (!s || !s.delete(h) || s.size > 0) return;
      this.handlers.delete(topic);
      this.sendAll({ type: FrameType.UNSUBSCRIBE, body: { topics: [topic] } });
    };
  }

  status(): LinkStatus[] {
    return [...this.links.values()].map((l) => ({ endpoint: l.key, state: l.state, server: l.server, since: l.since, lastError: l.lastError }));
  }

  /** Number of links currently up. */
  get upCount(): number {
    let n = 0;
    for (const l of this.links.values()) if (l.state === "up") n++;
    return n;
  }

  /** Number of event servers known (listed or discovered), up or not. */
  get serverCount(): number {
    return this.links.size;
  }

  /**
   * Number of links up that delivered a frame (an event, or the answer to a
   * ping) within the last `withinMs`. Unlike {@link upCount} this notices a
   * link whose packets are silently dropped (a partition) within `withinMs`
   * when pings go out more often than that, instead of after the idle
   * timeout.
   */
  heardCount(withinMs: number): number {
    const now = this.clock.now();
    let n = 0;
    for (const l of this.links.values()) if (l.state === "up" && now - l.heardAt <= withinMs) n++;
    return n;
  }

  onLinkChange(listener: (status: LinkStatus) => void): () => void {
    this.linkListeners.add(listener);
    return () => this.linkListeners.delete(listener);
  }

  /** Flush what was published and close every link. */
  async close(timeoutMs = 2000): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.link.close();
    if (this.discoveryTimer) this.clock.clearTimeout(this.discoveryTimer);
    const waits: Promise<void>[] = [];
    for (const link of this.links.values()) {
      link.removed = true;
      if (link.retry) this.clock.clearTimeout(link.retry);
      if (link.ping) clearInterval(link.ping);
      const s = link.socket;
      if (s && !s.destroyed) {
        waits.push(
          new Promise<void>((resolve) => {
            const t = setTimeout(() => {
              s.destroy();
              resolve();
            }, timeoutMs);
            s.once("close", () => {
              clearTimeout(t);
              resolve();
            });
            s.end();
          }),
        );
      }
    }
    await Promise.all(waits);
  }

  private async refreshServers(): Promise<void> {
    if (this.closed) return;
    const src = this.opts.servers;
    try {
      const endpoints = typeof src === "function" ? await src() : src;
      this.setServers(endpoints);
    } catch (err) {
      this.log.warn({ err: describeError(err) }, "event server discovery failed; keeping the current set");
    }
    if (typeof src === "function" && !this.closed) {
      this.discoveryTimer = this.clock.setTimeout(() => void this.refreshServers(), this.opts.discoveryIntervalMs ?? DEFAULT_DISCOVERY_INTERVAL_MS);
    }
  }

  private setServers(endpoints: Endpoint[]): void {
    const wanted = new Map(endpoints.map((e) => [endpointKey(e), e]));
    for (const [key, link] of this.links) {
      if (wanted.has(key)) continue;
      this.log.info({ endpoint: key }, "event server no longer listed, disconnecting");
      link.removed = true;
      if (link.retry) this.clock.clearTimeout(link.retry);
      link.socket?.destroy();
      this.links.delete(key);
    }
    for (const [key, e] of wanted) {
      if (this.links.has(key)) continue;
      const link = new Link(e, key, this.clock.now());
      this.links.set(key, link);
      this.connect(link);
    }
  }

  private connect(link: Link): void {
    if (this.closed || link.removed) return;
    link.state = "connecting";
    const { host, port } = link.endpoint;
    const socket = this.link.connect({ host, port });
    link.socket = socket;
    const decoder = new FrameDecoder(this.opts.maxFrame ?? DEFAULT_MAX_FRAME);
    socket.setNoDelay(true);
    socket.setTimeout(this.opts.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS, () => {
      link.lastError = "idle timeout";
      socket.destroy();
    });
    socket.once("secureConnect", () => {
      const verdict = this.link.verifyDialled(socket, { host });
      if (!verdict.ok) {
        link.lastError = verdict.reason;
        return;
      }
      link.server = formatSubject(verdict.peer.subject);
      link.serial = verdict.peer.serial;
      const topics = [...this.handlers.keys()];
      if (topics.length > 0) socket.write(encodeFrame({ type: FrameType.SUBSCRIBE, body: { topics } }));
      link.ping = setInterval(() => {
        // Writes keep the socket's idle timer going: a server that answers nothing (its packets are
        // dropped) is noticed here, by the time since it last sent anything.
        if (link.state === "up" && this.clock.now() - link.heardAt > (this.opts.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS)) {
          link.lastError = "no answer from the event server";
          socket.destroy();
          return;
        }
        if (socket.writable) socket.write(encodeFrame({ type: FrameType.PING, body: {} }));
      }, this.opts.pingIntervalMs ?? DEFAULT_PING_INTERVAL_MS);
      link.ping.unref();
    });
    socket.on("data", (chunk: Buffer) => {
      for (const r of decoder.push(chunk)) {
        if (!r.ok && r.skipped) {
          this.log.warn({ endpoint: link.key, reason: r.error }, "oversized event from event server skipped");
          continue;
        }
        if (!r.ok) {
          link.lastError = r.error;
          this.log.warn({ endpoint: link.key, reason: r.error }, "protocol error from event server, reconnecting");
          socket.destroy();
          return;
        }
        this.onFrame(link, r.frame);
      }
    });
    socket.on("error", (err) => {
      link.lastError = describeError(err);
    });
    socket.once("close", () => {
      if (link.ping) clearInterval(link.ping);
      link.ping = undefined;
      const wasUp = link.state === "up";
      link.state = "down";
      link.since = this.clock.now();
      link.socket = undefined;
      if (wasUp) {
        this.log.warn({ endpoint: link.key, reason: link.lastError }, "event server link down");
        this.emitLink(link);
      } else {
        this.log.debug({ endpoint: link.key, reason: link.lastError }, "event server connection failed");
      }
      if (this.closed || link.removed) return;
      const delay = backoffDelay(link.attempt++, this.opts.reconnectBaseMs ?? DEFAULT_RECONNECT_BASE_MS, this.opts.reconnectMaxMs ?? DEFAULT_RECONNECT_MAX_MS);
      link.retry = this.clock.setTimeout(() => {
        link.retry = undefined;
        this.connect(link);
      }, delay);
    });
  }

  private onFrame(link: Link, frame: Frame): void {
    link.heardAt = this.clock.now();
    switch (frame.type) {
      case FrameType.WELCOME:
        link.state = "up";
        link.attempt = 0;
        link.lastError = undefined;
        link.since = this.clock.now();
        this.log.info({ endpoint: link.key, server: frame.body.server }, "event server link up");
        this.emitLink(link);
        return;
      case FrameType.EVENT:
        this.onEvent(frame.body);
        return;
      case FrameType.ERROR:
        this.log.warn({ endpoint: link.key, code: frame.body.code, reason: frame.body.message }, "event server reported an error");
        return;
      case FrameType.PONG:
        return;
      default:
        link.lastError = `unexpected frame type ${frame.type}`;
        link.socket?.destroy();
    }
  }

  private onEvent(body: Extract<Frame, { type: typeof FrameType.EVENT }>["body"]): void {
    if (this.seen.has(body.msgId)) {
      this.counters.duplicates++;
      return;
    }
    this.seen.add(body.msgId);
    if (this.seen.size > (this.opts.dedupWindow ?? DEFAULT_DEDUP_WINDOW)) {
      const oldest = this.seen.values().next().value;
      if (oldest !== undefined) this.seen.delete(oldest);
    }
    const set = this.handlers.get(body.topic);
    if (!set || !isTopicName(body.topic)) return;
    const parsed = topicSchemas[body.topic].safeParse(body.payload);
    if (!parsed.success) {
      this.counters.invalid++;
      this.log.warn({ topic: body.topic, publisher: formatSubject(body.publisher.subject), issue: parsed.error.issues[0]?.message }, "invalid event payload dropped");
      return;
    }
    this.counters.received++;
    const meta: EventMeta = { msgId: body.msgId, publisher: body.publisher };
    for (const h of [...set]) {
      try {
        h(parsed.data, meta);
      } catch (err) {
        this.log.error({ topic: body.topic, err: describeError(err) }, "event handler failed");
      }
    }
  }

  private sendAll(frame: Frame): void {
    const buf = encodeRaw(frame.type, JSON.stringify(frame.body));
    for (const link of this.links.values()) if (link.state !== "down" && link.socket?.writable) link.socket.write(buf);
  }

  private emitLink(link: Link): void {
    const status: LinkStatus = { endpoint: link.key, state: link.state, server: link.server, since: link.since, lastError: link.lastError };
    linkChannel.publish(status.lastError ? { endpoint: status.endpoint, state: status.state === "up" ? "up" : "down", reason: status.lastError } : { endpoint: status.endpoint, state: status.state === "up" ? "up" : "down" });
    for (const l of this.linkListeners) l(status);
  }
}
