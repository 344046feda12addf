import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { parseMessage, type SipRequest } from "../../src/sip/message/index.js";
import { responseDestination, stampReceived, type Flow } from "../../src/sip/transport/index.js";
import { testIp, testNet } from "../support/slot.js";

function request(via: string): SipRequest {
  const r = parseMessage(Buffer.from(`OPTIONS sip:example.test SIP/2.0\r\nVia: ${via}\r\nFrom: <sip:a@example.test>;tag=1\r\nTo: <sip:example.test>\r\nCall-ID: v1\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n`));
  assert.ok(r.ok && r.message.isRequest);
  return r.message as SipRequest;
}

const flow = (transport: Flow["transport"], address: string, port: number, peer?: string): Flow => ({ id: "f", transport, local: { address: testIp(170, 1), port: 5060 }, remote: { address, port }, reliable: transport !== "udp", closed: true, send: () => false, ...(peer ? { peer } : {}) });

describe("transport side of the Via (RFC 3261 18.2.1, 18.2.2, RFC 3581)", () => {
  it("stamps received and rport on arrival", () => {
    const req = request("SIP/2.0/UDP client.invalid:5062;branch=z9hG4bK1;rport");
    stampReceived(req, flow("udp", testIp(170, 20), 40000));
    assert.equal(req.via!.params.get("received"), testIp(170, 20));
    assert.equal(req.via!.params.get("rport"), "40000");
  });

  it("a response whose connection closed goes to received:rport over the same transport", () => {
    const req = request("SIP/2.0/TCP client.invalid:5062;branch=z9hG4bK1;rport");
    const f = flow("tcp", testIp(170, 21), 40001);
    stampReceived(req, f);
    assert.deepEqual(responseDestination(req, f), { transport: "tcp", address: testIp(170, 21), port: 40001, internal: false });
  });

  it("without rport, to the received address and the sent-by port (5060 when absent)", () => {
    const f = flow("tcp", testIp(170, 22), 40002);
    const a = request("SIP/2.0/TCP client.invalid:5062;branch=z9hG4bK1");
    stampReceived(a, f);
    assert.deepEqual(responseDestination(a, f), { transport: "tcp", address: testIp(170, 22), port: 5062, internal: false });
    const b = request(`SIP/2.0/TCP ${testNet(170)}.22;branch=z9hG4bK2`);
    assert.deepEqual(responseDestination(b, f), { transport: "tcp", address: testIp(170, 22), port: 5060, internal: false });
  });

  it("only a mutually authenticated TLS peer gets its alias (RFC 5923)", () => {
    const viaText = `SIP/2.0/TLS ${testNet(170)}.23:5061;branch=z9hG4bK1;alias`;
    assert.equal(stampReceived(request(viaText), flow("tcp", testIp(170, 23), 40003)), undefined);
    assert.equal(stampReceived(request(viaText), flow("tls", testIp(170, 23), 40003)), undefined);
    assert.deepEqual(stampReceived(request(viaText), flow("tls", testIp(170, 23), 40003, "node-2")), { address: testIp(170, 23), port: 5061 });
  });
});
