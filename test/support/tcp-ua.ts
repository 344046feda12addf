import net from "node:net";
import { randomBytes } from "node:crypto";
import { computeHa1, digestResponse, serializeMessage, SipRequest, SipResponse, StreamFramer, type AnyMessage } from "../../src/sip/index.js";
import { parseDigest } from "../../src/sip/auth/index.js";
import { waitFor } from "./wait-for.js";

/**
 * A scripted SIP user agent on one TCP connection, for tests that need a
 * client reachable only over the connection it registered on (RFC 5626
 * style): it registers with digest authentication, then answers the
 * requests that arrive on the same connection.
 */
export class TcpUserAgent {
  private readonly socket: net.Socket;
  private readonly framer = new StreamFramer();
  readonly received: AnyMessage[] = [];
  private cseq = 1;
  private readonly callId = randomBytes(8).toString("hex");
  private readonly tag = randomBytes(4).toString("hex");

  private constructor(
    socket: net.Socket,
    readonly user: string,
    readonly domain: string,
    private readonly password: string,
  ) {
    this.socket = socket;
    socket.on("data", (chunk: Buffer) => {
      for (const ev of this.framer.push(chunk)) if (ev.kind === "message" && ev.result.ok) this.onMessage(ev.result.message);
    });
    socket.on("error", () => undefined);
  }

  static async connect(opts: { localAddress: string; server: string; port: number; user: string; domain: string; password: string }): Promise<TcpUserAgent> {
    const socket = net.connect({ host: opts.server, port: opts.port, localAddress: opts.localAddress });
    await new Promise<void>((resolve, reject) => socket.once("connect", resolve).once("error", reject));
    return new TcpUserAgent(socket, opts.user, opts.domain, opts.password);
  }

  get local(): string {
    return `${this.socket.localAddress}:${this.socket.localPort}`;
  }

  /** REGISTER, answer the 401 with digest credentials; resolves with the final status. */
  async register(expires = 600): Promise<number> {
    const first = await this.request(this.registerRequest(expires, []));
    if (first.status !== 401) return first.status;
    const challenge = first.getAll("www-authenticate").find((c) => /algorithm=MD5/i.test(c)) ?? first.get("www-authenticate") ?? "";
    const nonce = /nonce="([^"]+)"/.exec(challenge)?.[1] ?? "";
    const realm = /realm="([^"]+)"/.exec(challenge)?.[1] ?? this.domain;
    const uri = `sip:${this.domain}`;
    const ha1 = computeHa1("MD5", this.user, realm, this.password);
    const cnonce = randomBytes(4).toString("hex");
    const response = digestResponse("MD5", ha1, nonce, "REGISTER", uri, { qop: "auth", nc: "00000001", cnonce });
    const auth = `Digest username="${this.user}", realm="${realm}", nonce="${nonce}", uri="${uri}", response="${response}", algorithm=MD5, qop=auth, nc=00000001, cnonce="${cnonce}"`;
    if (!parseDigest(auth)) throw new Error("bad digest header built");
    return (await this.request(this.registerRequest(expires, [["Authorization", auth]]))).status;
  }

  private registerRequest(expires: number, extra: Array<[string, string]>): SipRequest {
    const headers: Array<[string, string]> = [
      ["Via", `SIP/2.0/TCP ${this.local};branch=z9hG4bK${randomBytes(6).toString("hex")};rport`],
      ["From", `<sip:${this.user}@${this.domain}>;tag=${this.tag}`],
      ["To", `<sip:${this.user}@${this.domain}>`],
      ["Call-ID", this.callId],
      ["CSeq", `${this.cseq++} REGISTER`],
      ["Contact", `<sip:${this.user}@${this.local};transport=tcp>`],
      ["Expires", String(expires)],
      ["Max-Forwards", "70"],
      ...extra,
    ];
    return new SipRequest("REGISTER", `sip:${this.domain}`, headers.map(([name, value]) => ({ name, key: name.toLowerCase(), value })), Buffer.alloc(0));
  }

  private async request(req: SipRequest): Promise<SipResponse> {
    const branch = /branch=([^;]+)/.exec(req.vias[0] ?? "")?.[1];
    const from = this.received.length;
    this.socket.write(serializeMessage(req));
    return waitFor(
      () => this.received.slice(from).find((m): m is SipResponse => !m.isRequest && m.status >= 200 && (m.vias[0] ?? "").includes(branch ?? "?")),
      { timeoutMs: 5000, message: `final response to ${req.method}` },
    );
  }

  /** Wait for a request of `method` on this connection. */
  async waitRequest(method: string, timeoutMs = 10_000): Promise<SipRequest> {
    return waitFor(() => this.received.find((m): m is SipRequest => m.isRequest && m.method === method), { timeoutMs, message: `${method} on the TCP flow of ${this.user}` });
  }

  /** Answer an INVITE with 200 (Record-Route copied), a BYE or anything else with 200. */
  respond(req: SipRequest, status = 200): void {
    const copy = ["via", "record-route", "from", "call-id", "cseq"];
    const headers = req.headers.filter((h) => copy.includes(h.key)).map((h) => ({ ...h }));
    const to = req.get("to") ?? "";
    headers.push({ name: "To", key: "to", value: /;tag=/.test(to) ? to : `${to};tag=${this.tag}` });
    if (req.method === "INVITE") headers.push({ name: "Contact", key: "contact", value: `<sip:${this.user}@${this.local};transport=tcp>` });
    const res = new SipResponse(status, "OK", headers, Buffer.alloc(0));
    this.socket.write(serializeMessage(res));
  }

  private onMessage(m: AnyMessage): void {
    this.received.push(m);
    if (m.isRequest && m.method !== "ACK" && m.method !== "INVITE") this.respond(m);
  }

  close(): void {
    this.socket.destroy();
  }
}
