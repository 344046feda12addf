/**
 * A minimal UDP user agent for presence tests: sends SUBSCRIBE / PUBLISH
 * (answering digest challenges with its password), keeps the dialog a
 * 200 to SUBSCRIBE creates, answers every NOTIFY 200 (or the status asked)
 * and records them. Parsing by the project's own parser.
 */
import dgram from "node:dgram";
import { randomBytes } from "node:crypto";
import { computeHa1, digestResponse, parseMessage, SipRequest, SipResponse, serializeMessage } from "../../src/sip/index.js";
import { waitFor } from "./wait-for.js";

export interface Sent {
  status: number;
  response: SipResponse;
}

export interface ReceivedNotify {
  request: SipRequest;
  state: string;
  body: string;
  cseq: number;
}

export class PresenceUa {
  readonly notifies: ReceivedNotify[] = [];
  /** Status answered to the next NOTIFYs. @default 200 */
  notifyAnswer = 200;
  private sock!: dgram.Socket;
  private port = 0;
  private readonly waiting = new Map<string, (r: SipResponse) => void>();
  private cseq = 1;
  private nc = 0;
  /** The dialog of the last accepted subscription. */
  dialog: { callId: string; fromTag: string; toTag: string; target: string; event: string } | undefined;

  constructor(
    readonly ip: string,
    readonly user: string,
    readonly domain: string,
    private readonly password: string,
    private readonly server: { host: string; port: number },
  ) {}

  async start(): Promise<void> {
    this.sock = dgram.createSocket("udp4");
    this.sock.on("message", (m) => this.onMessage(m));
    await new Promise<void>((r) => this.sock.bind(0, this.ip, () => r()));
    this.port = this.sock.address().port;
  }

  close(): void {
    this.sock.close();
  }

  get uri(): string {
    return `sip:${this.user}@${this.domain}`;
  }

  private onMessage(m: Buffer): void {
    const p = parseMessage(m);
    if (!p.ok) return;
    const msg = p.message;
    if (msg instanceof SipResponse) {
      const branch = msg.via?.params.get("branch") ?? "";
      if (msg.status >= 200) this.waiting.get(branch)?.(msg);
      return;
    }
    const req = msg as SipRequest;
    if (req.method === "NOTIFY") {
      const state = req.get("subscription-state") ?? "";
      this.notifies.push({ request: req, state, body: req.body.toString(), cseq: req.cseq.seq });
      const status = this.notifyAnswer;
      const lines = [`SIP/2.0 ${status} ${status === 200 ? "OK" : "Gone"}`, ...req.headers.filter((h) => ["via", "from", "to", "call-id", "cseq"].includes(h.key)).map((h) => `${h.name}: ${h.value}`), "Content-Length: 0", "", ""];
      const via = req.via!;
      const rport = via.params.get("rport");
      const host = via.params.get("received") ?? via.host;
      const port = rport && rport !== "" ? Number(rport) : (via.port ?? 5060);
      this.sock.send(Buffer.from(lines.join("\r\n")), port, host);
    }
  }

  /** Send a request (a fresh transaction); answers its final response, after one digest round if challenged. */
  async request(method: string, ruri: string, headers: Array<[string, string]>, body = "", opts: { retransmit?: boolean } = {}): Promise<SipResponse> {
    const callId = headers.find(([k]) => k.toLowerCase() === "call-id")?.[1] ?? randomBytes(8).toString("hex");
    let auth: [string, string] | undefined;
    for (let round = 0; round < 2; round++) {
      const branch = `z9hG4bK${randomBytes(8).toString("hex")}`;
      const lines: Array<[string, string]> = [
        ["Via", `SIP/2.0/UDP ${this.ip}:${this.port};branch=${branch};rport`],
        ["Max-Forwards", "70"],
        ...headers.filter(([k]) => k.toLowerCase() !== "call-id" && k.toLowerCase() !== "cseq"),
        ["Call-ID", callId],
        ["CSeq", `${this.cseq++} ${method}`],
        ...(auth ? [auth] : []),
      ];
      const req = new SipRequest(method, ruri, lines.map(([name, value]) => ({ name, key: name.toLowerCase(), value })), Buffer.from(body));
      const res = await this.exchange(serializeMessage(req), branch, opts.retransmit ?? true);
      if ((res.status === 401 || res.status === 407) && round === 0) {
        const ch = res.get(res.status === 401 ? "www-authenticate" : "proxy-authenticate") ?? "";
        const realm = /realm="([^"]*)"/.exec(ch)?.[1] ?? this.domain;
        const nonce = /nonce="([^"]*)"/.exec(ch)?.[1] ?? "";
        const alg = /algorithm=([A-Za-z0-9-]+)/.exec(ch)?.[1] === "SHA-256" ? "SHA-256" : "MD5";
        const nc = (++this.nc).toString(16).padStart(8, "0");
        const cnonce = randomBytes(6).toString("hex");
        const response = digestResponse(alg, computeHa1(alg, this.user, realm, this.password), nonce, method, ruri, { qop: "auth", nc, cnonce });
        auth = [res.status === 401 ? "Authorization" : "Proxy-Authorization", `Digest username="${this.user}", realm="${realm}", nonce="${nonce}", uri="${ruri}", response="${response}", algorithm=${alg}, qop=auth, nc=${nc}, cnonce="${cnonce}"`];
        continue;
      }
      return res;
    }
    throw new Error("unreachable");
  }

  /** Send and wait for the final response (retransmitted every 500 ms over UDP), at most 8 s. */
  private exchange(data: Buffer, branch: string, retransmit: boolean): Promise<SipResponse> {
    return new Promise((resolve, reject) => {
      const send = () => this.sock.send(data, this.server.port, this.server.host);
      const again = retransmit ? setInterval(send, 500) : undefined;
      const timer = setTimeout(() => {
        done();
        reject(new Error("timed out after 8000 ms waiting for a final response"));
      }, 8000);
      const done = () => {
        clearInterval(again);
        clearTimeout(timer);
        this.waiting.delete(branch);
      };
      this.waiting.set(branch, (r) => {
        done();
        resolve(r);
      });
      send();
    });
  }

  /** An initial SUBSCRIBE; on 200 the dialog is kept. */
  async subscribe(presentity: string, opts: { event?: string; expires?: number; extra?: Array<[string, string]>; body?: string } = {}): Promise<SipResponse> {
    const fromTag = randomBytes(4).toString("hex");
    const callId = randomBytes(8).toString("hex");
    const event = opts.event ?? "presence";
    const res = await this.request("SUBSCRIBE", `sip:${presentity}`, [
      ["From", `<${this.uri}>;tag=${fromTag}`],
      ["To", `<sip:${presentity}>`],
      ["Call-ID", callId],
      ["Contact", `<sip:${this.user}@${this.ip}:${this.port}>`],
      ["Event", event],
      ...(opts.expires !== undefined ? ([["Expires", String(opts.expires)]] as Array<[string, string]>) : []),
      ...(opts.extra ?? []),
    ], opts.body);
    if (res.status === 200) {
      const contact = /<([^>]*)>/.exec(res.get("contact") ?? "")?.[1] ?? `sip:${presentity}`;
      this.dialog = { callId, fromTag, toTag: res.to?.params.get("tag") ?? "", target: contact, event };
    }
    return res;
  }

  /** A refreshing (or, with 0, ending) SUBSCRIBE in the kept dialog. */
  async refresh(presentity: string, expires: number): Promise<SipResponse> {
    const d = this.dialog!;
    return this.request("SUBSCRIBE", d.target, [
      ["From", `<${this.uri}>;tag=${d.fromTag}`],
      ["To", `<sip:${presentity}>;tag=${d.toTag}`],
      ["Call-ID", d.callId],
      ["Contact", `<sip:${this.user}@${this.ip}:${this.port}>`],
      ["Event", d.event],
      ["Expires", String(expires)],
    ]);
  }

  async publish(body: string | undefined, opts: { ifMatch?: string; expires?: number; contentType?: string; event?: string } = {}): Promise<SipResponse> {
    return this.request(
      "PUBLISH",
      this.uri,
      [
        ["From", `<${this.uri}>;tag=${randomBytes(4).toString("hex")}`],
        ["To", `<${this.uri}>`],
        ["Event", opts.event ?? "presence"],
        ...(opts.ifMatch ? ([["SIP-If-Match", opts.ifMatch]] as Array<[string, string]>) : []),
        ...(opts.expires !== undefined ? ([["Expires", String(opts.expires)]] as Array<[string, string]>) : []),
        ...(body !== undefined ? ([["Content-Type", opts.contentType ?? "application/pidf+xml"]] as Array<[string, string]>) : []),
      ],
      body ?? "",
    );
  }

  async waitNotify(pred: (n: ReceivedNotify) => boolean, what: string, timeoutMs = 8000): Promise<ReceivedNotify> {
    return waitFor(() => this.notifies.find(pred), { timeoutMs, message: what });
  }
}

/** A PIDF document of `entity` with one tuple. */
export function pidf(entity: string, basic: "open" | "closed", note = "", tuple = "t1"): string {
  return `<?xml version="1.0" encoding="UTF-8"?>\n<presence xmlns="urn:ietf:params:xml:ns:pidf" entity="${entity}"><tuple id="${tuple}"><status><basic>${basic}</basic></status>${note ? `<note>${note}</note>` : ""}</tuple></presence>`;
}
