import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { ManualClock, silentLogger } from "../../src/base/index.js";
import { createResponse, parseMessage, serializeMessage, type SipRequest, type SipResponse } from "../../src/sip/message/index.js";
import { allowed, INVITE_CLIENT_TRANSITIONS, INVITE_SERVER_TRANSITIONS, NON_INVITE_CLIENT_TRANSITIONS, NON_INVITE_SERVER_TRANSITIONS, TransactionLayer, type ClientTransactionUser } from "../../src/sip/transaction/index.js";
import { MemoryLogger } from "../support/memory-logger.js";
import type { Flow } from "../../src/sip/transport/index.js";

const T1 = 500;
const T2 = 4000;

function request(method: string, branch = "z9hG4bKtest1"): SipRequest {
  const r = parseMessage(Buffer.from(`${method} sip:bob@example.test SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.0.1:5060;branch=${branch}\r\nFrom: <sip:alice@example.test>;tag=a1\r\nTo: <sip:bob@example.test>\r\nCall-ID: c1@10.0.0.1\r\nCSeq: 1 ${method}\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n`));
  assert.ok(r.ok);
  return r.message as SipRequest;
}

function response(req: SipRequest, status: number): SipResponse {
  const r = parseMessage(serializeMessage(createResponse(req, status, undefined, [], "b1")));
  assert.ok(r.ok && !r.message.isRequest);
  return r.message as SipResponse;
}

const flow = (reliable = false): Flow => ({ id: "f", transport: reliable ? "tcp" : "udp", local: { address: "10.0.0.2", port: 5060 }, remote: { address: "10.0.0.1", port: 5060 }, reliable, send: () => true, closed: false });

function setup(logger: MemoryLogger | typeof silentLogger = silentLogger) {
  const clock = new ManualClock();
  const requests: Array<{ req: SipRequest; tx: unknown }> = [];
  const responsesSent: Buffer[] = [];
  const layer = new TransactionLayer(
    { onRequest: (req, _f, tx) => requests.push({ req, tx }), onStrayResponse: () => undefined },
    (bytes) => {
      responsesSent.push(bytes);
      return true;
    },
    { clock, logger, timers: { t1: T1, t2: T2 } },
  );
  const sent: Array<{ at: number; text: string }> = [];
  const sender = { reliable: false, send: (d: Buffer) => (sent.push({ at: clock.now(), text: d.toString() }), true) };
  const events: string[] = [];
  const tu: ClientTransactionUser = { onResponse: (r) => events.push(`response ${r.status}`), onTimeout: () => events.push("timeout"), onTransportError: () => events.push("transport error") };
  return { clock, layer, requests, responsesSent, sent, sender, events, tu };
}

describe("RFC 3261 17.1 client transactions", () => {
  it("non-INVITE over UDP: Timer E doubles up to T2, Timer F ends it with a timeout", () => {
    const { clock, layer, sent, sender, events, tu } = setup();
    layer.request(request("OPTIONS"), sender, tu);
    clock.advance(64 * T1 + 1);
    const gaps = sent.slice(1).map((s, i) => s.at - sent[i]!.at);
    assert.deepEqual(gaps.slice(0, 5), [500, 1000, 2000, 4000, 4000]);
    assert.deepEqual(events, ["timeout"]);
    assert.equal(layer.counts.client, 0);
  });

  it("non-INVITE: a provisional moves to Proceeding (retransmit every T2), a final to Completed, Timer K ends it", () => {
    const { clock, layer, sent, sender, events, tu } = setup();
    const req = request("OPTIONS");
    layer.request(req, sender, tu);
    layer.receive({ message: response(req, 100), flow: flow() });
    const before = sent.length;
    clock.advance(T2 + 1);
    assert.equal(sent.length, before + 1, "one retransmission after T2 in Proceeding (the pending E fires first)");
    layer.receive({ message: response(req, 200), flow: flow() });
    layer.receive({ message: response(req, 200), flow: flow() });
    assert.deepEqual(events, ["response 100", "response 200"], "retransmitted final responses are absorbed");
    clock.advance(5000 + 1);
    assert.equal(layer.counts.client, 0);
  });

  it("INVITE over UDP: Timer A doubles, a 486 is acknowledged (also when retransmitted), Timer B is off", () => {
    const { clock, layer, sent, sender, events, tu } = setup();
    const req = request("INVITE", "z9hG4bKinv");
    layer.request(req, sender, tu);
    clock.advance(3 * T1 + 1);
    assert.deepEqual(sent.map((s) => s.at), [0, 500, 1500]);
    layer.receive({ message: response(req, 486), flow: flow() });
    const ack = sent.at(-1)!.text;
    assert.match(ack, /^ACK sip:bob@example.test SIP\/2.0\r\n/);
    assert.match(ack, /branch=z9hG4bKinv/);
    assert.match(ack, /CSeq: 1 ACK/);
    assert.match(ack, /To: <sip:bob@example.test>;tag=b1/);
    layer.receive({ message: response(req, 486), flow: flow() });
    assert.match(sent.at(-1)!.text, /^ACK /);
    assert.deepEqual(events, ["response 486"]);
    clock.advance(64 * T1);
    assert.deepEqual(events, ["response 486"], "no timeout after a final response");
  });

  it("INVITE: 2xx go to the TU, retransmissions too (RFC 6026 Accepted), no ACK from the transaction", () => {
    const { layer, sent, sender, events, tu } = setup();
    const req = request("INVITE", "z9hG4bKinv2");
    layer.request(req, sender, tu);
    layer.receive({ message: response(req, 180), flow: flow() });
    layer.receive({ message: response(req, 200), flow: flow() });
    layer.receive({ message: response(req, 200), flow: flow() });
    assert.deepEqual(events, ["response 180", "response 200", "response 200"]);
    assert.ok(sent.every((s) => s.text.startsWith("INVITE")));
  });

  it("INVITE: Timer B fires after 64*T1 without a response", () => {
    const { clock, layer, sender, events, tu } = setup();
    layer.request(request("INVITE", "z9hG4bKinv3"), sender, tu);
    clock.advance(64 * T1 - 1);
    assert.deepEqual(events, []);
    clock.advance(2);
    assert.deepEqual(events, ["timeout"]);
  });
});

describe("RFC 3261 17.2 server transactions", () => {
  it("INVITE: a 486 is retransmitted (Timer G) until the ACK, which the transaction absorbs", () => {
    const { clock, layer, requests, responsesSent } = setup();
    const req = request("INVITE", "z9hG4bKs1");
    layer.receive({ message: req, flow: flow() });
    assert.equal(requests.length, 1);
    const tx = requests[0]!.tx as { respond(r: SipResponse): void; state: string };
    tx.respond(createResponse(req, 486));
    clock.advance(T1 + 2 * T1 + 1);
    assert.equal(responsesSent.length, 3, "sent, then after T1 and 2*T1");
    const ack = request("ACK", "z9hG4bKs1");
    layer.receive({ message: ack, flow: flow() });
    assert.equal(tx.state, "confirmed");
    assert.equal(requests.length, 1, "the ACK went to the transaction, not the core");
    clock.advance(10 * T2);
    assert.equal(responsesSent.length, 3);
    assert.equal(layer.counts.server, 0, "Timer I ended it");
  });

  it("INVITE: Timer H gives up when no ACK comes", () => {
    const { clock, layer, requests } = setup();
    const req = request("INVITE", "z9hG4bKs2");
    layer.receive({ message: req, flow: flow() });
    const tx = requests[0]!.tx as { respond(r: SipResponse): void; state: string; events: { onFailure?: (r: string) => void } };
    let failure = "";
    tx.events.onFailure = (r) => (failure = r);
    tx.respond(createResponse(req, 404));
    clock.advance(64 * T1 + 1);
    assert.equal(failure, "timeout");
    assert.equal(tx.state, "terminated");
  });

  it("non-INVITE: request retransmissions get the last response again, until Timer J", () => {
    const { clock, layer, requests, responsesSent } = setup();
    const req = request("OPTIONS", "z9hG4bKs3");
    layer.receive({ message: req, flow: flow() });
    const tx = requests[0]!.tx as { respond(r: SipResponse): void };
    tx.respond(createResponse(req, 200));
    layer.receive({ message: request("OPTIONS", "z9hG4bKs3"), flow: flow() });
    assert.equal(responsesSent.length, 2);
    assert.equal(requests.length, 1);
    clock.advance(64 * T1 + 1);
    layer.receive({ message: request("OPTIONS", "z9hG4bKs3"), flow: flow() });
    assert.equal(requests.length, 2, "after Timer J it is a new request");
  });

  it("INVITE: after a 2xx (RFC 6026 Accepted) retransmitted INVITEs are absorbed, 2xx from the TU still go out, Timer L ends it", () => {
    const { clock, layer, requests, responsesSent } = setup();
    const req = request("INVITE", "z9hG4bKacc1");
    layer.receive({ message: req, flow: flow() });
    const tx = requests[0]!.tx as { respond(r: SipResponse): void; state: string };
    tx.respond(createResponse(req, 200));
    layer.receive({ message: request("INVITE", "z9hG4bKacc1"), flow: flow() });
    assert.equal(responsesSent.length, 1, "no 2xx generated by the transaction");
    assert.equal(requests.length, 1, "the retransmission matched the transaction");
    tx.respond(createResponse(req, 200));
    assert.equal(responsesSent.length, 2, "a 2xx retransmission from the TU is sent");
    assert.equal(tx.state, "accepted");
    clock.advance(64 * T1 + 1);
    assert.equal(layer.counts.server, 0, "Timer L ended it");
  });

  it("non-INVITE: the lingering record answers retransmissions on their own flow, and CANCEL of an answered INVITE gets no transaction", () => {
    const { layer, requests, responsesSent } = setup();
    const req = request("OPTIONS", "z9hG4bKling1");
    layer.receive({ message: req, flow: flow() });
    (requests[0]!.tx as { respond(r: SipResponse): void }).respond(createResponse(req, 404));
    assert.equal(layer.counts.lingering, 1);
    layer.receive({ message: request("OPTIONS", "z9hG4bKling1"), flow: flow() });
    layer.receive({ message: request("ACK", "z9hG4bKling1"), flow: flow() });
    assert.equal(responsesSent.length, 2, "the retransmission got the 404 again; an ACK matches no non-INVITE");
    assert.equal(responsesSent[1]!.toString("latin1"), responsesSent[0]!.toString("latin1"), "the same bytes");
    const invite = request("INVITE", "z9hG4bKling2");
    layer.receive({ message: invite, flow: flow() });
    (requests.at(-1)!.tx as { respond(r: SipResponse): void }).respond(createResponse(invite, 486));
    layer.receive({ message: request("ACK", "z9hG4bKling2"), flow: flow() });
    assert.equal(layer.findInviteFor(request("CANCEL", "z9hG4bKling2")), "answered");
  });

  it("an ACK that matches no transaction (ACK for 2xx) goes to the core", () => {
    const { layer, requests } = setup();
    layer.receive({ message: request("ACK", "z9hG4bKnomatch"), flow: flow() });
    assert.equal(requests.length, 1);
    assert.equal(requests[0]!.tx, undefined);
  });
});

describe("guarded state transitions (one machine per module)", () => {
  const illegal = (log: MemoryLogger) => log.entries.filter((e) => e.msg === "illegal transaction state transition refused");

  it("each table ends in Terminated, which has no way out, and names only the machine's states", () => {
    for (const table of [INVITE_CLIENT_TRANSITIONS, NON_INVITE_CLIENT_TRANSITIONS, INVITE_SERVER_TRANSITIONS, NON_INVITE_SERVER_TRANSITIONS]) {
      assert.deepEqual(table.terminated, []);
      for (const [from, tos] of Object.entries(table)) if (from !== "terminated" && tos.length > 0) assert.ok(tos.includes("terminated"), `${from} can end`);
    }
    assert.equal(allowed(INVITE_SERVER_TRANSITIONS, "completed", "accepted"), false);
    assert.equal(allowed(NON_INVITE_CLIENT_TRANSITIONS, "trying", "accepted"), false, "Accepted is an INVITE state (RFC 6026)");
  });

  /** A TU that answers `first`, then `second`: the second is refused, not sent, and logged. */
  function answerTwice(method: string, first: number, second: number): { state: string; sent: number; refused: Array<unknown[]>; count: number } {
    const log = new MemoryLogger();
    const { layer, requests, responsesSent } = setup(log);
    const req = request(method, `z9hG4bKg${method}${first}`);
    layer.receive({ message: req, flow: flow() });
    const tx = requests[0]!.tx as { respond(r: SipResponse): void; state: string };
    tx.respond(createResponse(req, first));
    tx.respond(createResponse(req, second));
    return { state: tx.state, sent: responsesSent.length, refused: illegal(log).map((e) => [e.fields["machine"], e.fields["from"], e.fields["to"]]), count: layer.illegalTransitions };
  }

  it("non-INVITE server: a provisional after the final response is refused, not sent, and logged", () => {
    assert.deepEqual(answerTwice("OPTIONS", 200, 180), { state: "completed", sent: 1, refused: [["non-INVITE server", "completed", "proceeding"]], count: 1 });
  });

  it("INVITE server: a 2xx after a non-2xx final is refused (Completed never becomes Accepted)", () => {
    assert.deepEqual(answerTwice("INVITE", 486, 200), { state: "completed", sent: 1, refused: [["INVITE server", "completed", "accepted"]], count: 1 });
  });

  it("INVITE client: a 2xx after a non-2xx final is refused and not passed to the TU; retransmitted finals are ACKed again without a log", () => {
    const log = new MemoryLogger();
    const { layer, sent, sender, events, tu } = setup(log);
    const req = request("INVITE", "z9hG4bKg3");
    layer.request(req, sender, tu);
    layer.receive({ message: response(req, 486), flow: flow() });
    layer.receive({ message: response(req, 486), flow: flow() });
    layer.receive({ message: response(req, 200), flow: flow() });
    assert.deepEqual(events, ["response 486"]);
    assert.equal(sent.filter((s) => s.text.startsWith("ACK ")).length, 2);
    assert.deepEqual(illegal(log).map((e) => [e.fields["machine"], e.fields["from"], e.fields["to"]]), [["INVITE client", "completed", "accepted"]]);
  });
});
