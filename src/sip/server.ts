/**
 * A SIP server, the composition of the SIP engine: the transport (every
 * message first passes the guard's admission, before it is parsed), whose
 * receiver is the proxy's transaction layer, above which the proxy core
 * runs its request pipeline (guard, digest authentication, the features
 * given as `interceptors`) and its registrar UAS. docs/sip-core.md.
 */
import type { Clock, Logger } from "../base/index.js";
import { SipProxy, type ProxyOptions } from "./proxy/index.js";
import { TransportLayer, type ConnectionLimits, type ListenSpec, type PeerTls, type SharedSocketOpener } from "./transport/index.js";
import type { MessageLimits } from "./message/index.js";
import type { AsyncCredentialStore, CredentialStore } from "./auth/index.js";

export interface SipServerOptions extends Omit<ProxyOptions, "transport" | "logger" | "credentials"> {
  logger: Logger;
  listen: ListenSpec[];
  credentials: CredentialStore | AsyncCredentialStore;
  tls?: { cert: string; key: string; ca?: string; rejectUnauthorized?: boolean };
  /** Mutual TLS of the internal (member-to-member) listener. */
  peerTls?: PeerTls;
  maxMessage?: number;
  /** Caps on header lines and list entries per message. @default DEFAULT_MESSAGE_LIMITS */
  messageLimits?: Partial<MessageLimits>;
  /** Connection caps and timeouts. @default DEFAULT_CONNECTION_LIMITS */
  connectionLimits?: Partial<ConnectionLimits>;
  clock?: Clock;
  /** Opens the sockets of `shared` listeners (SO_REUSEPORT, the SIP workers of a host). */
  openShared?: SharedSocketOpener;
}

export class SipServer {
  readonly transport: TransportLayer;
  readonly proxy: SipProxy;

  constructor(opts: SipServerOptions) {
    this.transport = new TransportLayer({
      logger: opts.logger.child({ part: "transport" }),
      listen: opts.listen,
      ...(opts.tls ? { tls: opts.tls } : {}),
      ...(opts.peerTls ? { peerTls: opts.peerTls } : {}),
      ...(opts.maxMessage ? { maxMessage: opts.maxMessage } : {}),
      ...(opts.messageLimits ? { messageLimits: opts.messageLimits } : {}),
      ...(opts.connectionLimits ? { connectionLimits: opts.connectionLimits } : {}),
      ...(opts.openShared ? { openShared: opts.openShared } : {}),
      // The proxy's guard rate-limits every message, before it is parsed or answered.
      admit: (flow) => this.proxy.guard.admit(flow),
      onMessage: (inbound) => this.proxy.receive(inbound),
    });
    const { listen: _l, tls: _t, peerTls: _p, maxMessage: _m, messageLimits: _ml, connectionLimits: _cl, openShared: _o, ...rest } = opts;
    this.proxy = new SipProxy({ ...rest, transport: this.transport });
  }

  async start(): Promise<void> {
    await this.transport.start();
    this.proxy.start();
  }

  async stop(): Promise<void> {
    this.proxy.stop();
    await this.transport.stop();
  }
}
