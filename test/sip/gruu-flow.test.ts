import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import WebSocket from "ws";
import { computeHa1, digestResponse, MemoryCredentialStore, SipServer } from "../../src/sip/index.js";
import { silentLogger } from "../../src/base/index.js";
import { sipMessage, udpClient } from "../security/support.js";
import { waitFor } from "../support/wait-for.js";
import { testIp, testNet } from "../support/slot.js";

/**
 * GRUUs and flow failure on one node, with WebSocket clients that register
 * as JsSIP does (RFC 7118 Contact in `.invalid`, `+sip.instance`, `reg-id`,
 * `Supported: gruu`), on testNet(201).0/24:
 * - a request to a GRUU reaches that instance only (no fork to the AOR's
 *   other instance); an unknown instance gets 480;
 * - an ACK to a GRUU without our Record-Route is dropped, counted and not
 *   delivered;
 * - when a client's WebSocket closes, its binding goes at once (RFC 5626),
 *   and its GRUU answers 480.
 */
const HOST = testIp(201, 1);
const DOMAIN = "example.test";

/** A WebSocket SIP client that collects the messages it receives. */
class WsClient {
  readonly got: string[] = [];
  private constructor(readonly ws: WebSocket, readonly tag: string) {
    ws.on("message", (d: Buffer) => this.got.push(d.toString("utf8")));
  }
  static async open(url: string, localAddress: string, tag: string): Promise<WsClient> {
    const ws = new WebSocket(url, "sip", { localAddress });
    await new Promise<void>((resolve, reject) => {
      ws.once("open", () => resolve());
      ws.once("error", reject);
    });
    return new WsClient(ws, tag);
  }
  send(data: Buffer): void {
    this.ws.send(data.toString("utf8"));
  }
  /** The next message matching `re`, waited for. */
  async next(re: RegExp, what: string): Promise<string> {
    const m = await waitFor(() => this.got.find((x) => re.test(x)), { timeoutMs: 5000, message: `${this.tag}: ${what}` });
    this.got.splice(this.got.indexOf(m), 1);
    return m;
  }
  /** Answer a request 200, as a UA (the request's Via, From, To with a tag, Call-ID, CSeq). */
  answer(req: string): void {
    const lines = req.split("\r\n");
    const keep = lines.filter((l) => /^(via|from|call-id|cseq)\s*:/i.test(l));
    const to = lines.find((l) => /^to\s*:/i.test(l))!;
    this.send(sipMessage(["SIP/2.0 200 OK", ...keep, `${to};tag=${this.tag}`]));
  }
}

describe("GRUUs and flow failure (WebSocket clients on one node)", () => {
  let server: SipServer;
  let wsUrl = "";
  let udpPort = 0;

  before(async () => {
    const credentials = new MemoryCredentialStore(DOMAIN);
    credentials.set("alice", { password: "alice-secret" });
    credentials.set("bob", { password: "bob-secret" });
    server = new SipServer({ logger: silentLogger, listen: [{ transport: "ws", host: HOST, port: 0 }, { transport: "udp", host: HOST, port: 0 }], domains: [DOMAIN], credentials, algorithms: ["MD5"] });
    await server.start();
    for (const b of server.transport.bound()) {
      if (b.transport === "ws") wsUrl = `ws://${HOST}:${b.boundPort}`;
      if (b.transport === "udp") udpPort = b.boundPort;
    }
  });
  after(() => server.stop());

  /** Register bob over `c` as instance `uuid` (digest, as JsSIP); answers the 200's GRUU. */
  async function register(c: WsClient, uuid: string): Promise<string> {
    const contact = `<sip:${c.tag}@${c.tag}.invalid;transport=ws;ob>;+sip.instance="<urn:uuid:${uuid}>";reg-id=1;expires=600`;
    const request = (cseq: number, auth: string[]) =>
      sipMessage([`REGISTER sip:${DOMAIN} SIP/2.0`, `Via: SIP/2.0/WS ${c.tag}.invalid;branch=z9hG4bK${c.tag}${cseq}`, `From: <sip:bob@${DOMAIN}>;tag=f${c.tag}`, `To: <sip:bob@${DOMAIN}>`, `Call-ID: reg-${c.tag}`, `CSeq: ${cseq} REGISTER`, "Max-Forwards: 69", `Contact: ${contact}`, "Supported: path,gruu,outbound", ...auth]);
    c.send(request(1, []));
    const challenge = await c.next(/^SIP\/2\.0 401/, "401");
    const nonce = /nonce="([^"]+)"/.exec(challenge)![1]!;
    const uri = `sip:${DOMAIN}`;
    const response = digestResponse("MD5", computeHa1("MD5", "bob", DOMAIN, "bob-secret"), nonce, "REGISTER", uri, { qop: "auth", nc: "00000001", cnonce: "ab" });
    c.send(request(2, [`Authorization: Digest username="bob", realm="${DOMAIN}", nonce="${nonce}", uri="${uri}", response="${response}", algorithm=MD5, qop=auth, nc=00000001, cnonce="ab"`]));
    const ok = await c.next(/^SIP\/2\.0 200/, "200 to REGISTER");
    const gruu = new RegExp(`pub-gruu="([^"]*${uuid}[^"]*)"`).exec(ok)?.[1];
    assert.ok(gruu, `a pub-gruu for ${uuid} in ${ok}`);
    return gruu;
  }

  /** alice sends a MESSAGE to `target` over UDP (answering the 407); answers the final status line. */
  async function message(target: string, id: string): Promise<string> {
    const alice = await udpClient(testIp(201, 3));
    try {
      const request = (cseq: number, auth: string[]) =>
        sipMessage([`MESSAGE ${target} SIP/2.0`, `Via: SIP/2.0/UDP ${testNet(201)}.3:${alice.port};branch=z9hG4bK${id}${cseq};rport`, `From: <sip:alice@${DOMAIN}>;tag=a${id}`, `To: <sip:bob@${DOMAIN}>`, `Call-ID: ${id}`, `CSeq: ${cseq} MESSAGE`, "Max-Forwards: 70", "Content-Type: text/plain", ...auth], `hello ${id}`);
      alice.socket.send(request(1, []), udpPort, HOST);
      const challenge = await waitFor(() => alice.got.find((m) => /^SIP\/2\.0 407/.test(m)), { message: "407" });
      const nonce = /nonce="([^"]+)"/.exec(challenge)![1]!;
      const response = digestResponse("MD5", computeHa1("MD5", "alice", DOMAIN, "alice-secret"), nonce, "MESSAGE", target, { qop: "auth", nc: "00000001", cnonce: "a1" });
      alice.socket.send(request(2, [`Proxy-Authorization: Digest username="alice", realm="${DOMAIN}", nonce="${nonce}", uri="${target}", response="${response}", algorithm=MD5, qop=auth, nc=00000001, cnonce="a1"`]), udpPort, HOST);
      const final = await waitFor(() => alice.got.find((m) => /^SIP\/2\.0 [2-6]\d\d/.test(m) && !/^SIP\/2\.0 407/.test(m)), { message: `final answer to MESSAGE ${id}` });
      return final.split("\r\n")[0]!;
    } finally {
      alice.close();
    }
  }

  it("a request to a GRUU reaches its instance only; an ACK to it without our Record-Route is dropped and counted; a closed WebSocket's binding goes at once", async () => {
    const a = await WsClient.open(wsUrl, testIp(201, 2), "tabA");
    const b = await WsClient.open(wsUrl, testIp(201, 4), "tabB");
    try {
      const gruuA = await register(a, "0e0d6e70-0000-4000-8000-00000000000a");
      await register(b, "0e0d6e70-0000-4000-8000-00000000000b");
      assert.equal(server.proxy.location.store.size, 2);

      // A MESSAGE to tab A's GRUU: tab A gets it (Request-URI its Contact), tab B nothing.
      const answered = message(gruuA, "gruu-msg-1");
      const got = await a.next(/^MESSAGE /, "MESSAGE to its GRUU");
      assert.match(got, /^MESSAGE sip:tabA@tabA\.invalid;transport=ws;ob SIP\/2\.0/i);
      a.answer(got);
      assert.equal(await answered, "SIP/2.0 200 OK");
      assert.equal(b.got.filter((m) => m.startsWith("MESSAGE ")).length, 0, "the other instance got no fork");

      // An unknown instance of bob: 480.
      assert.match(await message(`sip:bob@${DOMAIN};gr=urn:uuid:0e0d6e70-0000-4000-8000-0000000000ff`, "gruu-msg-2"), /^SIP\/2\.0 480/);

      // An ACK to the GRUU from outside without our Record-Route: dropped (reason outside-dialog), counted.
      const dropped = server.proxy.counters.dropped;
      const alice = await udpClient(testIp(201, 3));
      alice.socket.send(sipMessage([`ACK ${gruuA} SIP/2.0`, `Via: SIP/2.0/UDP ${testNet(201)}.3:${alice.port};branch=z9hG4bKack1;rport`, `From: <sip:alice@${DOMAIN}>;tag=x`, `To: <sip:bob@${DOMAIN}>;tag=y`, "Call-ID: stray-ack", "CSeq: 1 ACK", "Max-Forwards: 70"]), udpPort, HOST);
      await waitFor(() => server.proxy.counters.dropped === dropped + 1, { message: "the ACK counted as dropped" });
      alice.close();
      assert.equal(a.got.filter((m) => m.startsWith("ACK ")).length, 0);

      // Tab A closes its WebSocket without unregistering: its binding goes, its GRUU answers 480.
      a.ws.close();
      await waitFor(() => server.proxy.location.store.size === 1, { message: "tab A's binding removed when its WebSocket closed" });
      assert.match(server.proxy.location.store.lookup(`bob@${DOMAIN}`, Date.now())[0]!.uri, /tabB/);
      assert.match(await message(gruuA, "gruu-msg-3"), /^SIP\/2\.0 480/);
    } finally {
      a.ws.terminate();
      b.ws.terminate();
    }
  });
});
