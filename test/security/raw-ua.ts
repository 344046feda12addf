/**
 * Hand-written SIP user agents for the public-SIP security tests: a UDP
 * or TCP socket on one of this folder's loopback addresses that sends raw
 * messages and collects what arrives, so a test can send exactly the
 * datagram an attacker would and wait on what comes back.
 */
import dgram from "node:dgram";
import net from "node:net";
import { computeHa1, digestResponse, type DigestAlgorithm } from "../../src/sip/index.js";
import { waitFor } from "../support/wait-for.js";

export interface Peer {
  host: string;
  port: number;
}

/**
 * One raw SIP endpoint (UDP socket, or one TCP connection to `peer`). Like
 * a real user agent it answers requests other than INVITE and ACK with 200
 * and acknowledges failure responses to its INVITEs, so the server has no
 * retransmissions pending when a test ends.
 */
export class RawUa {
  readonly received: string[] = [];
  private udp: dgram.Socket | undefined;
  private tcp: net.Socket | undefined;
  private buffer = "";
  port = 0;

  private constructor(
    readonly ip: string,
    readonly transport: "udp" | "tcp",
  ) {}

  static async udp(ip: string): Promise<RawUa> {
    const ua = new RawUa(ip, "udp");
    const sock = dgram.createSocket("udp4");
    sock.on("message", (m, rinfo) => ua.receive(m.toString("utf8"), { host: rinfo.address, port: rinfo.port }));
    await new Promise<void>((r) => sock.bind(0, ip, () => r()));
    ua.udp = sock;
    ua.port = sock.address().port;
    return ua;
  }

  static async tcp(ip: string, peer: Peer): Promise<RawUa> {
    const ua = new RawUa(ip, "tcp");
    const sock = net.connect({ host: peer.host, port: peer.port, localAddress: ip });
    await new Promise<void>((resolve, reject) => sock.once("connect", resolve).once("error", reject));
    sock.setEncoding("utf8");
    sock.on("data", (d: string) => {
      ua.buffer += d;
      for (;;) {
        const end = ua.buffer.indexOf("\r\n\r\n");
        if (end < 0) return;
        const head = ua.buffer.slice(0, end + 4);
        const len = Number(/\r\ncontent-length:\s*(\d+)/i.exec(head)?.[1] ?? "0");
        if (ua.buffer.length < end + 4 + len) return;
        ua.receive(ua.buffer.slice(0, end + 4 + len), peer);
        ua.buffer = ua.buffer.slice(end + 4 + len);
      }
    });
    sock.on("error", () => undefined);
    ua.tcp = sock;
    ua.port = sock.localPort!;
    return ua;
  }

  private receive(msg: string, from: Peer): void {
    this.received.push(msg);
    const line = msg.slice(0, msg.indexOf("\r\n"));
    const keep = (name: string) => headers(msg, name).map((v) => `${name}: ${v}`);
    const cseq = header(msg, "CSeq") ?? "";
    if (!line.startsWith("SIP/2.0") && !/^(INVITE|ACK) /.test(line)) {
      this.send(sipMessage(["SIP/2.0 200 OK", ...keep("Via"), ...keep("From"), `To: ${header(msg, "To")}${/;tag=/.test(header(msg, "To") ?? "") ? "" : ";tag=auto"}`, ...keep("Call-ID"), ...keep("CSeq")]), from);
    } else if (/^SIP\/2\.0 [3-6]\d\d/.test(line) && / INVITE$/.test(cseq)) {
      // RFC 3261 17.1.1.3: the ACK for a failure response, in the INVITE's transaction.
      const via = headers(msg, "Via")[0];
      const uri = /^<?([^>;]+)/.exec(header(msg, "To") ?? "")?.[1] ?? "sip:invalid";
      this.send(sipMessage([`ACK ${uri} SIP/2.0`, `Via: ${via}`, ...keep("From"), ...keep("To"), ...keep("Call-ID"), `CSeq: ${cseq.split(" ")[0]} ACK`, "Max-Forwards: 70"]), from);
    }
  }

  /** `sent-by` for a Via of this endpoint. */
  get sentBy(): string {
    return `${this.ip}:${this.port}`;
  }

  send(text: string, to: Peer): void {
    const data = Buffer.from(text);
    if (this.udp) this.udp.send(data, to.port, to.host);
    else this.tcp!.write(data);
  }

  /** The first message received (after `from`) matching `pred`, waited for with a deadline. */
  async next(pred: (m: string) => boolean, what: string, from = 0, timeoutMs = 3000): Promise<string> {
    return waitFor(() => this.received.slice(from).find(pred), { timeoutMs, message: what });
  }

  /** Messages received so far that match `pred`. */
  count(pred: (m: string) => boolean): number {
    return this.received.filter(pred).length;
  }

  close(): void {
    this.udp?.close();
    this.tcp?.destroy();
  }
}

/** A SIP message from lines (CRLF, blank line, Content-Length added when missing). */
export function sipMessage(lines: string[], body = ""): string {
  const hasLength = lines.some((l) => /^content-length:/i.test(l));
  return [...lines, ...(hasLength ? [] : [`Content-Length: ${Buffer.byteLength(body)}`])].join("\r\n") + "\r\n\r\n" + body;
}

/** The value of the first header `name` in a raw message. */
export function header(msg: string, name: string): string | undefined {
  return new RegExp(`^${name}:\\s*(.*)$`, "im").exec(msg)?.[1]?.trim();
}

/** All values of header `name` in a raw message. */
export function headers(msg: string, name: string): string[] {
  return [...msg.matchAll(new RegExp(`^${name}:\\s*(.*)$`, "gim"))].map((m) => m[1]!.trim());
}

export function statusOf(msg: string): number | undefined {
  const m = /^SIP\/2\.0 (\d{3})/.exec(msg);
  return m ? Number(m[1]) : undefined;
}

export const isStatus = (status: number, cseqMethod?: string) => (m: string) => statusOf(m) === status && (cseqMethod === undefined || new RegExp(`^CSeq:\\s*\\d+ ${cseqMethod}`, "im").test(m));
export const isFinal = (cseqMethod: string) => (m: string) => (statusOf(m) ?? 0) >= 200 && new RegExp(`^CSeq:\\s*\\d+ ${cseqMethod}`, "im").test(m);
export const isRequest = (method: string) => (m: string) => m.startsWith(`${method} `);

/** An Authorization value answering `challenge` (a WWW-/Proxy-Authenticate value). */
export function answer(challenge: string, o: { user: string; password: string; method: string; uri: string; realm?: string; nc?: string; qop?: boolean }): string {
  const realm = o.realm ?? /realm="([^"]+)"/.exec(challenge)![1]!;
  const nonce = /nonce="([^"]+)"/.exec(challenge)![1]!;
  const alg = (/algorithm=([A-Z0-9-]+)/.exec(challenge)?.[1] ?? "MD5") as DigestAlgorithm;
  const ha1 = computeHa1(alg, o.user, realm, o.password);
  const nc = o.nc ?? "00000001";
  if (o.qop === false) {
    const response = digestResponse(alg, ha1, nonce, o.method, o.uri);
    return `Digest username="${o.user}", realm="${realm}", nonce="${nonce}", uri="${o.uri}", response="${response}", algorithm=${alg}`;
  }
  const response = digestResponse(alg, ha1, nonce, o.method, o.uri, { qop: "auth", nc, cnonce: "c0ffee" });
  return `Digest username="${o.user}", realm="${realm}", nonce="${nonce}", uri="${o.uri}", response="${response}", algorithm=${alg}, qop=auth, nc=${nc}, cnonce="c0ffee"`;
}
