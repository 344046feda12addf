/**
 * The transaction layer (RFC 3261 17): matches incoming messages to
 * transactions (17.1.3, 17.2.3), creates server transactions for new
 * requests, and sends requests through client transactions. What matches
 * nothing goes to the core: new requests, ACKs for 2xx, stray responses.
 */
import { systemClock, type Clock, type Logger } from "../../base/index.js";
import { randomBase64Url, randomHex, SipRequest, type SipResponse } from "../message/index.js";
import type { Flow, Inbound } from "../transport/index.js";
import { ClientTransaction } from "./client.js";
import { ServerTransaction } from "./server.js";
import type { ClientTransactionUser, Sender } from "./types.js";
import { DEFAULT_TIMERS, type TimerConfig } from "./timers.js";
import { sipRequestChannel } from "../diagnostics.js";

export const MAGIC_COOKIE = "z9hG4bK";

export function newBranch(): string {
  return `${MAGIC_COOKIE}${randomBase64Url(9)}`;
}

/** What the layer above implements. */
export interface TransactionCore {
  /** A new request with its server transaction (none for ACK). */
  onRequest(request: SipRequest, flow: Flow, transaction: ServerTransaction | undefined): void;
  /** A response that matches no client transaction (e.g. 2xx retransmissions). */
  onStrayResponse(response: SipResponse, flow: Flow): void;
}

function serverKey(req: SipRequest): string | undefined {
  const via = req.via;
  const branch = via?.params.get("branch");
  if (!via || !branch || !branch.startsWith(MAGIC_COOKIE)) return undefined;
  const method = req.method === "ACK" ? "INVITE" : req.method;
  return `${branch}|${via.host}:${via.port ?? ""}|${method}`;
}

function clientKey(branch: string, method: string): string {
  return `${branch}|${method}`;
}

export class TransactionLayer {
  private readonly servers = new Map<string, ServerTransaction>();
  private readonly clients = new Map<string, ClientTransaction>();
  readonly timers: TimerConfig;
  private readonly clock: Clock;

  constructor(
    private readonly core: TransactionCore,
    /** Sends response bytes for a server transaction (RFC 3261 18.2.2 routing). */
    private readonly respondTo: (bytes: Buffer, tx: { flow: Flow; request: SipRequest }) => boolean,
    opts: { clock?: Clock; timers?: Partial<TimerConfig>; logger: Logger },
  ) {
    this.clock = opts.clock ?? systemClock;
    this.timers = { ...DEFAULT_TIMERS, ...opts.timers };
  }

  get counts(): { server: number; client: number } {
    return { server: this.servers.size, client: this.clients.size };
  }

  receive({ message, flow }: Inbound): void {
    if (message instanceof SipRequest) this.receiveRequest(message, flow);
    else this.receiveResponse(message as SipResponse, flow);
  }

  /** The server transaction an INVITE created, for CANCEL matching (RFC 3261 9.2). */
  findInviteFor(cancel: SipRequest): ServerTransaction | undefined {
    const key = serverKey(cancel);
    if (!key) return undefined;
    return this.servers.get(key.replace(/\|CANCEL$/, "|INVITE"));
  }

  /** Send a request through a new client transaction; its top Via must carry a fresh branch. */
  request(req: SipRequest, sender: Sender, tu: ClientTransactionUser): ClientTransaction {
    const branch = req.via?.params.get("branch") ?? "";
    const key = clientKey(branch, req.method);
    const tx = new ClientTransaction(key, req, sender, tu, this.clock, this.timers, (t) => this.clients.delete(t.key));
    this.clients.set(key, tx);
    tx.start();
    return tx;
  }

  private receiveRequest(req: SipRequest, flow: Flow): void {
    const key = serverKey(req);
    if (key) {
      const existing = this.servers.get(key);
      if (existing) {
        existing.receive(req);
        return;
      }
    }
    sipRequestChannel.publish({ method: req.method });
    if (req.method === "ACK") {
      // An ACK matching no transaction is the ACK for a 2xx: it goes to the core (17.2.3).
      this.core.onRequest(req, flow, undefined);
      return;
    }
    const tx = new ServerTransaction(
      key ?? `rfc2543|${req.callId}|${req.cseq.seq}|${req.method}|${randomHex(4)}`,
      req,
      flow,
      (bytes, request) => this.respondTo(bytes, { flow, request }),
      this.clock,
      this.timers,
      (t) => this.servers.delete(t.key),
    );
    this.servers.set(tx.key, tx);
    this.core.onRequest(req, flow, tx);
  }

  private receiveResponse(res: SipResponse, flow: Flow): void {
    const branch = res.via?.params.get("branch");
    const tx = branch ? this.clients.get(clientKey(branch, res.cseq.method)) : undefined;
    if (tx) tx.receive(res);
    else this.core.onStrayResponse(res, flow);
  }
}
