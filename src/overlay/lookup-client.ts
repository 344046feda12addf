/**
 * Client of the lookup interface: one persistent connection, pipelined
 * requests, answers matched in order.
 */
import net from "node:net";

export class LookupClient {
  private readonly socket: net.Socket;
  private readonly waiting: Array<{ resolve: (line: string) => void; reject: (err: Error) => void }> = [];
  private rest = "";
  private readonly ready: Promise<void>;

  constructor(host: string, port: number, private readonly timeoutMs = 5000) {
    this.socket = net.connect(port, host);
    this.socket.setNoDelay(true);
    this.ready = new Promise((resolve, reject) => {
      this.socket.once("connect", () => resolve());
      this.socket.once("error", reject);
    });
    this.socket.setEncoding("utf8");
    this.socket.on("data", (chunk: string) => {
      const lines = (this.rest + chunk).split("\n");
      this.rest = lines.pop() ?? "";
      for (const l of lines) this.waiting.shift()?.resolve(l.replace(/\r$/, ""));
    });
    const failAll = (err: Error) => {
      for (const w of this.waiting.splice(0)) w.reject(err);
    };
    this.socket.on("error", failAll);
    this.socket.on("close", () => failAll(new Error("lookup connection closed")));
  }

  /** Send one request line; resolves with the answer line. */
  async request(line: string): Promise<string> {
    await this.ready;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no answer within ${this.timeoutMs} ms`)), this.timeoutMs);
      this.waiting.push({
        resolve: (l) => {
          clearTimeout(timer);
          resolve(l);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      });
      this.socket.write(`${line}\r\n`);
    });
  }

  lookup(role: string, key: string): Promise<string> {
    return this.request(`lookup ${role} for ${key}`);
  }

  isOnline(ip: string, role: string): Promise<string> {
    return this.request(`is_online ${ip} as ${role}`);
  }

  close(): void {
    this.socket.end();
  }
}

/** Send all `lines` pipelined on one connection; resolves with the answers in order. */
export async function queryLookup(host: string, port: number, lines: readonly string[], timeoutMs = 5000): Promise<string[]> {
  const client = new LookupClient(host, port, timeoutMs);
  try {
    return await Promise.all(lines.map((l) => client.request(l)));
  } finally {
    client.close();
  }
}
