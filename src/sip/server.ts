/**
 * A single-node SIP server: transports, transactions and the proxy core
 * with registrar and digest authentication, wired together.
 */
import type { Clock, Logger } from "../base/index.js";
import { SipProxy, type ProxyOptions } from "./proxy/index.js";
import { TransportLayer, type ListenSpec, type PeerTls } from "./transport/index.js";
import type { AsyncCredentialStore, CredentialStore } from "./auth/index.js";

export interface SipServerOptions extends Omit<ProxyOptions, "transport" | "logger" | "credentials"> {
  logger: Logger;
  listen: ListenSpec[];
  credentials: CredentialStore | AsyncCredentialStore;
  tls?: { cert: string; key: string; ca?: string; rejectUnauthorized?: boolean };
  /** Mutual TLS of the internal (member-to-member) listener. */
  peerTls?: PeerTls;
  maxMessage?: number;
  clock?: Clock;
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
    });
    const { listen: _l, tls: _t, peerTls: _p, maxMessage: _m, ...rest } = opts;
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
