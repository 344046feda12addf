import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { silentLogger } from "../../src/base/index.js";
import { compose, DecoratorHandler, MemoryCredentialStore, SipServer, type Forward, type ForwardHandler, type Interceptor, type ProxyTarget, type SipResponse } from "../../src/sip/index.js";
import { registerUdp, sipMessage, udpClient } from "../security/support.js";
import { waitFor } from "../support/wait-for.js";
import { testIp, testNet } from "../support/slot.js";

/** The example of docs/sip-core.md: INVITE final statuses counted by a decorator handler. */
class CountingHandler extends DecoratorHandler {
  constructor(
    inner: ForwardHandler,
    private readonly byStatus: Map<number, number>,
  ) {
    super(inner);
  }
  override onComplete(status: number): void {
    this.byStatus.set(status, (this.byStatus.get(status) ?? 0) + 1);
    super.onComplete(status);
  }
}

function inviteAccounting(byStatus: Map<number, number>): Interceptor {
  return {
    name: "accounting",
    forward: (next) => (req, handler) => {
      if (req.request.method !== "INVITE") return next(req, handler);
      next(req, new CountingHandler(handler, byStatus));
    },
  };
}

describe("request pipeline: compose", () => {
  it("a phase no interceptor hooks is the terminal itself (nothing added per request)", () => {
    const terminal: Forward = () => undefined;
    assert.equal(compose([], "forward", terminal), terminal);
    assert.equal(compose([{ name: "request-only", request: (next) => next }], "forward", terminal), terminal);
  });

  it("wraps in order, the first interceptor outermost", () => {
    const seen: string[] = [];
    const mark = (name: string): Interceptor => ({ name, request: (next) => (req, h) => (seen.push(name), next(req, h)) });
    const chain = compose([mark("a"), mark("b")], "request", () => seen.push("terminal"));
    chain(undefined as never, undefined as never);
    assert.deepEqual(seen, ["a", "b", "terminal"]);
  });
});

describe("request pipeline on a real server", () => {
  const HOST = testIp(170, 11);
  const DOMAIN = "example.test";
  let server: SipServer;
  let port = 0;
  const byStatus = new Map<number, number>();
  const forwarded: Array<{ method: string; targets: readonly ProxyTarget[]; identity: string | undefined }> = [];
  const dnd = new Set([`sip:carol@${DOMAIN}`]);
  const features: Interceptor[] = [
    // A call feature in the request phase: do-not-disturb answers instead of passing on.
    { name: "dnd", request: (next) => (req, handler) => (dnd.has(req.request.uri) ? req.reply(handler, 486, "Busy Here") : next(req, handler)) },
    inviteAccounting(byStatus),
    // A forward-phase observer that also rewrites responses on their way upstream.
    {
      name: "observer",
      forward: (next) => (req, handler) => {
        forwarded.push({ method: req.request.method, targets: req.targets, identity: req.identity });
        next(
          req,
          new (class extends DecoratorHandler {
            override onResponse(res: SipResponse): void {
              res.append("X-Pipeline", "seen");
              super.onResponse(res);
            }
          })(handler),
        );
      },
    },
  ];

  before(async () => {
    const credentials = new MemoryCredentialStore(DOMAIN);
    credentials.set("alice", { password: "alice-secret" });
    credentials.set("carol", { password: "carol-secret" });
    server = new SipServer({ logger: silentLogger, listen: [{ transport: "udp", host: HOST, port: 0 }], domains: [DOMAIN], credentials, algorithms: ["MD5"], interceptors: features });
    await server.start();
    port = server.transport.bound()[0]!.boundPort;
  });
  after(() => server.stop());

  it("features see routed requests with their targets, rewrite responses, count final statuses, and answer in the request phase", async () => {
    assert.deepEqual(
      server.proxy.interceptors.map((i) => i.name),
      ["guard", "digest-authentication", "dnd", "accounting", "observer"],
    );
    const alice = await udpClient(testIp(170, 12));
    const caller = await udpClient(testIp(170, 13));
    try {
      // alice answers every INVITE 486 and ACKs nothing (the proxy's transaction ACKs the 486 hop by hop).
      alice.socket.on("message", (m) => {
        const text = m.toString("latin1");
        if (!text.startsWith("INVITE ")) return;
        const head = text.split("\r\n\r\n")[0]!.split("\r\n");
        const keep = head.filter((l) => /^(via|from|to|call-id|cseq):/i.test(l)).map((l) => (/^to:/i.test(l) ? `${l};tag=a1` : l));
        alice.socket.send(sipMessage(["SIP/2.0 486 Busy Here", ...keep]), port, HOST);
      });
      const contact = `<sip:alice@${testNet(170)}.12:${alice.port}>`;
      assert.match(await registerUdp({ ip: testIp(170, 12), to: { host: HOST, port }, user: "alice", password: "alice-secret", domain: DOMAIN, contacts: [contact] }), /^SIP\/2\.0 200/);
      // A foreign caller may reach our users without credentials.
      const invite = (to: string, callId: string) =>
        sipMessage([`INVITE ${to} SIP/2.0`, `Via: SIP/2.0/UDP ${testNet(170)}.13:${caller.port};branch=z9hG4bK${callId};rport`, "From: <sip:dave@elsewhere.test>;tag=d1", `To: <${to}>`, `Call-ID: ${callId}`, "CSeq: 1 INVITE", "Max-Forwards: 70", `Contact: <sip:dave@${testNet(170)}.13:${caller.port}>`]);
      caller.socket.send(invite(`sip:alice@${DOMAIN}`, "pipe-1"), port, HOST);
      await waitFor(() => caller.got.some((m) => /^SIP\/2\.0 486/.test(m)), { message: "486 relayed upstream" });
      const busy = caller.got.find((m) => /^SIP\/2\.0 486/.test(m))!;
      assert.match(busy, /\r\nX-Pipeline: seen\r\n/, "the forward-phase decorator rewrote the response");
      await waitFor(() => byStatus.get(486) === 1, { message: "accounting saw the final status" });
      const inv = forwarded.find((f) => f.method === "INVITE")!;
      assert.equal(inv.identity, undefined, "a foreign caller is not authenticated");
      assert.deepEqual(inv.targets, [{ uri: `sip:alice@${testNet(170)}.12:${alice.port}`, registeredFrom: testIp(170, 12) }]);
      // Do-not-disturb answers in the request phase: nothing is forwarded, no accounting.
      const before = forwarded.length;
      caller.socket.send(invite(`sip:carol@${DOMAIN}`, "pipe-2"), port, HOST);
      await waitFor(() => caller.got.some((m) => /^SIP\/2\.0 486 Busy Here/.test(m) && m.includes("Call-ID: pipe-2")), { message: "486 from the request phase" });
      assert.equal(forwarded.length, before);
      assert.equal(byStatus.get(486), 1);
    } finally {
      alice.close();
      caller.close();
    }
  });
});
