/**
 * The transaction layer (RFC 3261 17): matches incoming messages to
 * transactions (17.1.3, 17.2.3), creates server transactions for new
 * requests, and sends requests through client transactions. What matches
 * nothing goes to the core: new requests, ACKs for 2xx, stray responses.
 */
import { systemClock, type Clock, type Logger } from "../../base/index.js";
import { ownCopy, randomBase64Url, randomHex, SipRequest, type SipResponse } from "../message/index.js";
import type { Flow, Inbound } from "../transport/index.js";
import type { ClientTransaction } from "./client.js";
import type { ServerTransaction } from "./server.js";
import { InviteClientTransaction } from "./invite-client.js";
import { NonInviteClientTransaction } from "./non-invite-client.js";
import { InviteServerTransaction } from "./invite-server.js";
import { NonInviteServerTransaction } from "./non-invite-server.js";
import type { IllegalTransition, ServerTransactionEnv, TransactionEnv } from "./state-machine.js";
import { LingeringTable, type LingeringRecord } from "./lingering.js";
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

/** A server transaction, or what is left of it while it only absorbs retransmissions. */
type ServerEntry = ServerTransaction | LingeringRecord;
const isLingering = (e: ServerEntry): e is LingeringRecord => "lingering" in e;

export class TransactionLayer {
  private readonly servers = new Map<string, ServerEntry>();
  private readonly clients = new Map<string, ClientTransaction>();
  readonly timers: TimerConfig;
  /** State moves refused by a machine's table (each logged). */
  illegalTransitions = 0;
  private readonly clientEnv: TransactionEnv;
  private readonly serverEnv: ServerTransactionEnv;
  private readonly lingering: LingeringTable;

  constructor(
    private readonly core: TransactionCore,
    /** Sends response bytes for a server transaction (RFC 3261 18.2.2 routing). */
    private readonly respondTo: (bytes: Buffer, tx: { flow: Flow; request: SipRequest }) => boolean,
    opts: { clock?: Clock; timers?: Partial<TimerConfig>; logger: Logger },
  ) {
    const clock: Clock = opts.clock ?? systemClock;
    const timers = (this.timers = { ...DEFAULT_TIMERS, ...opts.timers });
    const log = opts.logger;
    const onIllegal = (t: IllegalTransition) => {
      this.illegalTransitions++;
      log.warn({ machine: t.machine, from: t.from, to: t.to, input: t.input, method: t.method }, "illegal transaction state transition refused");
    };
    this.clientEnv = { clock, timers, onTerminated: (key) => this.clients.delete(key), onIllegal };
    this.lingering = new LingeringTable(clock, (key, record) => {
      if (this.servers.get(key) === record) this.servers.delete(key);
    });
    const linger = (key: string, last: Buffer | null, ms: number) => {
      const record: LingeringRecord = { lingering: last ? last.toString("latin1") : null };
      this.servers.set(key, record);
      this.lingering.add(key, record, ms);
    };
    this.serverEnv = { clock, timers, onTerminated: (key) => this.servers.delete(key), onIllegal, linger };
  }

  /** Transactions held: `server` counts the lingering ones too (`lingering` of them). */
  get counts(): { server: number; client: number; lingering: number } {
    return { server: this.servers.size, client: this.clients.size, lingering: this.lingering.size };
  }

  receive({ message, flow }: Inbound): void {
    if (message instanceof SipRequest) this.receiveRequest(message, flow);
    else this.receiveResponse(message as SipResponse, flow);
  }

  /**
   * The server transaction an INVITE created, for CANCEL matching (RFC 3261
   * 9.2): `"answered"` when it only absorbs retransmissions by now.
   */
  findInviteFor(cancel: SipRequest): ServerTransaction | "answered" | undefined {
    const key = serverKey(cancel);
    if (!key) return undefined;
    const e = this.servers.get(key.replace(/\|CANCEL$/, "|INVITE"));
    return e === undefined ? undefined : isLingering(e) ? "answered" : e;
  }

  /**
   * Send a request through a new client transaction; its top Via must carry
   * a fresh branch (`branch`, when the caller knows it: the Via is then not parsed).
   */
  request(req: SipRequest, sender: Sender, tu: ClientTransactionUser, branch = req.via?.params.get("branch") ?? ""): ClientTransaction {
    const key = clientKey(branch, req.method);
    const tx: ClientTransaction = req.method === "INVITE" ? new InviteClientTransaction(key, req, sender, tu, this.clientEnv) : new NonInviteClientTransaction(key, req, sender, tu, this.clientEnv);
    this.clients.set(key, tx);
    tx.start();
    return tx;
  }

  private receiveRequest(req: SipRequest, flow: Flow): void {
    const key = serverKey(req);
    if (key) {
      const existing = this.servers.get(key);
      if (existing) {
        if (!isLingering(existing)) existing.receive(req);
        // 17.2.2 (Completed): a retransmitted request gets the final response again, to its own Via;
        // 17.2.1 (Confirmed): ACK and INVITE retransmissions are absorbed.
        else if (existing.lingering !== null && req.method !== "ACK") this.respondTo(Buffer.from(existing.lingering, "latin1"), { flow, request: req });
        return;
      }
    }
    sipRequestChannel.publish({ method: req.method });
    if (req.method === "ACK") {
      // An ACK matching no transaction is the ACK for a 2xx: it goes to the core (17.2.3).
      this.core.onRequest(req, flow, undefined);
      return;
    }
    // The key lives as long as the transaction (32 s after its final response): its own flat string, not
    // pieces that keep the received message's text alive.
    const txKey = ownCopy(key ?? `rfc2543|${req.callId}|${req.cseq.seq}|${req.method}|${randomHex(4)}`);
    // Responses go to the Via of the request they answer (the original or a retransmission): the
    // transaction does not keep the parsed request once it only absorbs retransmissions.
    const send = (bytes: Buffer, request: SipRequest) => this.respondTo(bytes, { flow, request });
    const tx: ServerTransaction = req.method === "INVITE" ? new InviteServerTransaction(txKey, req, flow, send, this.serverEnv) : new NonInviteServerTransaction(txKey, req, flow, send, this.serverEnv);
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
