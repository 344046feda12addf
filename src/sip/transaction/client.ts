/**
 * Client transactions (RFC 3261 17.1): what the INVITE (invite-client.ts)
 * and non-INVITE (non-invite-client.ts) machines share: the request sent
 * once serialized, the sender, the transaction user, and the current
 * retransmission interval. Retransmissions only on unreliable transports.
 */
import { serializeMessage, type SipRequest, type SipResponse } from "../message/index.js";
import { TransactionBase } from "./base.js";
import type { TransactionEnv, TransitionTable } from "./state-machine.js";
import type { ClientState, ClientTransactionUser, Sender } from "./types.js";

const EMPTY = Buffer.alloc(0);

export abstract class ClientTransaction<T extends string = string> extends TransactionBase<ClientState, T> {
  abstract readonly isInvite: boolean;
  /** The request as sent, for retransmissions; let go of once none can follow (a final response came). */
  protected bytes: Buffer;
  protected interval: number;

  constructor(
    key: string,
    /** The request sent (a client transaction builds its ACK and CANCEL from it). */
    readonly request: SipRequest,
    initial: ClientState,
    table: TransitionTable<ClientState>,
    machine: string,
    protected readonly sender: Sender,
    protected readonly tu: ClientTransactionUser,
    env: TransactionEnv,
  ) {
    super(key, request, initial, table, machine, env);
    this.bytes = serializeMessage(request);
    this.interval = env.timers.t1;
  }

  /** Send the request and arm the machine's timers. */
  start(): void {
    if (!this.sender.send(this.bytes)) {
      this.terminate();
      this.tu.onTransportError();
      return;
    }
    this.armStart();
  }

  /** A response matched this transaction. */
  abstract receive(res: SipResponse): void;

  /**
   * The connection carrying the request closed (or never opened) before a
   * final response: a transport error (RFC 3261 17.1.4, 8.1.3.1: the TU
   * treats it as 503), reported at once instead of at Timer B.
   */
  transportFailed(): void {
    if (this.state === "completed" || this.state === "terminated" || this.state === "accepted") return;
    this.terminate();
    this.tu.onTransportError();
  }

  /** The TU gave up (e.g. the proxy's Timer C): stop without telling it. */
  abandon(): void {
    this.terminate();
  }

  protected abstract armStart(): void;

  /** A final response came: no retransmission of the request follows, its bytes need not linger (Timers D, K, M). */
  protected sent(): void {
    this.bytes = EMPTY;
  }

  /** Timer B or F: no final response in time (ignored once one came). */
  protected timeout(): void {
    if (this.state === "completed" || this.state === "terminated" || this.state === "accepted") return;
    this.terminate();
    this.tu.onTimeout();
  }
}
