/**
 * Client of the lookup interface: one persistent connection, pipelined
 * requests, answers matched to requests in order (the server answers every
 * line exactly once, in order). Each request has its own timeout; a request
 * that timed out keeps its place in the queue so later answers stay matched.
 */
import net from "node:net";
import { normalizeKey } from "./key.js";
import { formatRequest, parseAnswer } from "./lookup-codec.js";
import { LookupAnswerError, LookupClosedError, LookupRequestError, LookupTimeoutError } from "./errors.js";
import { DEFAULT_LOOKUP_TIMEOUT_MS } from "./options.js";

/** Longest answer line the client accepts before giving up on the connection. */
const MAX_ANSWER = 64 * 1024;

interface Waiter {
  resolve(line: string): void;
  reject(err: Error): void;
}

export class LookupClient {
  private readonly socket: net.Socket;
  private readonly waiting: Waiter[] = [];
  private rest = "";
  private closedReason: Error | undefined;

  constructor(
    readonly host: string,
    readonly port: number,
    private readonly timeoutMs = DEFAULT_LOOKUP_TIMEOUT_MS,
  ) {
    // Writes made while connecting are queued by the socket; no need to wait for "connect".
    this.socket = net.connect({ host, port, noDelay: true });
    this.socket.setEncoding("utf8");
    this.socket.on("data", (chunk: string) => this.onData(chunk));
    this.socket.on("error", (err) => this.fail(new LookupClosedError(`lookup connection to ${host}:${port} failed: ${err.message}`, { cause: err })));
    this.socket.on("close", () => this.fail(new LookupClosedError(`lookup connection to ${host}:${port} closed`)));
  }

  /** Send one raw request line (no CR/LF in it); resolves with the answer line, without CR LF. */
  request(line: string): Promise<string> {
    if (/[\r\n]/.test(line)) return Promise.reject(new LookupRequestError("a request line cannot contain CR or LF"));
    if (this.closedReason) return Promise.reject(this.closedReason);
    return new Promise<string>((resolve, reject) => {
      let settled = false;
      const timer = setTimeout(() => {
        settled = true;
        reject(new LookupTimeoutError(`no answer from ${this.host}:${this.port} within ${this.timeoutMs} ms`));
      }, this.timeoutMs);
      this.waiting.push({
        resolve: (l) => {
          clearTimeout(timer);
          if (!settled) resolve(l);
        },
        reject: (e) => {
          clearTimeout(timer);
          if (!settled) reject(e);
        },
      });
      this.socket.write(`${line}\r\n`);
    });
  }

  /**
   * The IP of the member responsible for `key` in `role`, or undefined when
   * no member has the role (`None`). The key is normalized here first.
   * Rejects with LookupAnswerError when the server answers an error.
   */
  async lookup(role: string, key: string): Promise<string | undefined> {
    const norm = normalizeKey(key);
    if (!norm.ok) throw new LookupRequestError(`invalid key: ${norm.reason}`);
    const a = parseAnswer(await this.request(formatRequest({ kind: "lookup", role, key: norm.key })));
    if (a.kind === "address") return a.ip;
    if (a.kind === "none") return undefined;
    throw new LookupAnswerError(a.kind === "error" ? a.reason : `unexpected answer "${a.kind}" to lookup`);
  }

  /** Whether a member with address `ip` is online with `role`. Rejects with LookupAnswerError on an error answer. */
  async isOnline(ip: string, role: string): Promise<boolean> {
    const a = parseAnswer(await this.request(formatRequest({ kind: "is_online", ip, role })));
    if (a.kind === "yes") return true;
    if (a.kind === "no") return false;
    throw new LookupAnswerError(a.kind === "error" ? a.reason : `unexpected answer to is_online`);
  }

  /**
   * Half-close: requests already sent still get their answers; whatever is
   * unanswered when the server closes is rejected with LookupClosedError.
   */
  close(): void {
    this.socket.end();
  }

  private onData(chunk: string): void {
    const lines = (this.rest + chunk).split("\n");
    this.rest = lines.pop() ?? "";
    for (const l of lines) this.waiting.shift()?.resolve(l.endsWith("\r") ? l.slice(0, -1) : l);
    if (this.rest.length > MAX_ANSWER) this.socket.destroy(new Error(`answer line longer than ${MAX_ANSWER} characters`));
  }

  private fail(err: Error): void {
    this.closedReason ??= err;
    for (const w of this.waiting.splice(0)) w.reject(this.closedReason);
  }
}

/** Send all `lines` pipelined on one new connection; resolves with the raw answers in order. */
export async function queryLookup(host: string, port: number, lines: readonly string[], timeoutMs = DEFAULT_LOOKUP_TIMEOUT_MS): Promise<string[]> {
  const client = new LookupClient(host, port, timeoutMs);
  try {
    return await Promise.all(lines.map((l) => client.request(l)));
  } finally {
    client.close();
  }
}
