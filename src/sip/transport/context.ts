/**
 * What the transports of one layer (UDP, stream, WebSocket) share: the
 * options, limits, counters and flow table, and the way every received
 * message goes up (admission, parse result delivery, cost measurement).
 */
import type tls from "node:tls";
import type net from "node:net";
import type { Logger } from "../../base/index.js";
import type { MessageLimits, ParseResult } from "../message/index.js";
import type { FlowTable } from "./flows.js";
import type { ConnectionCounter, ConnectionLimits } from "./limits.js";
import type { Address, Flow } from "./types.js";

/**
 * Mutual TLS between members, provided by the composition side (the member
 * link of pki/, which this engine does not import): options for both ends,
 * the admission of a peer (`dialled` names the address we dialled; absent
 * for accepted connections), and `follow` to keep a server's CRL current.
 * An admitted peer stays watched by the provider, which cuts its
 * connection when its certificate is revoked.
 */
export interface PeerTls {
  server(): tls.TlsOptions;
  client(): tls.ConnectionOptions;
  authorize(socket: tls.TLSSocket, dialled?: Address): { ok: true; peer: string } | { ok: false; reason: string };
  follow?(server: tls.Server): void;
}

export interface TransportStats {
  received: number;
  sent: number;
  parseErrors: number;
  connections: number;
  /** Messages the admission check (rate limiter) dropped. */
  refused: number;
  /** Connections refused or closed by a limit (count cap, header timeout, idle). */
  connectionsRefused: number;
  /** Sends that failed (unusable destination, socket error). */
  sendErrors: number;
}

export interface TransportContext {
  readonly log: Logger;
  readonly limits: ConnectionLimits;
  readonly stats: TransportStats;
  readonly flows: FlowTable;
  readonly accepted: ConnectionCounter;
  /** Certificate and key (PEM) for tls and wss listeners and outgoing TLS. */
  readonly tls: { cert: string; key: string; ca?: string; rejectUnauthorized?: boolean } | undefined;
  readonly peerTls: PeerTls | undefined;
  /** @default 65535 */
  readonly maxMessage: number | undefined;
  readonly parseOpts: { maxMessage?: number; limits?: MessageLimits };
  /** The clock (ms) measuring what each message costs. */
  costClock(): number;
  /** The admission check (rate limiter) of a message from `flow`; counts refusals. */
  admitted(flow: Flow): boolean;
  /** Hand a parsed message up, or answer/drop a bad one; returns an alias an authenticated peer offered. */
  deliver(result: ParseResult, flow: Flow): Address | undefined;
  /** Record what handling `bytes` cost since `started`. */
  measured(started: number, flow: Flow, bytes: Buffer): void;
  sendOn(flow: Flow, data: Buffer): boolean;
  /** Admission of an accepted connection (total and per-address caps); releases its slot on close. */
  gate(socket: net.Socket): boolean;
}
