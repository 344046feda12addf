import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { DEFAULT_MESSAGE_LIMITS, parseMessage } from "../../src/sip/index.js";
import { startThor, type ThorProcess } from "../support/processes.js";
import { waitFor } from "../support/wait-for.js";
import { cpuMs, sipMessage, udpClient } from "./support.js";
import { testIp, testNet } from "../support/slot.js";

/**
 * Issue 10 item 4: one datagram must not stall the event loop. Header
 * counts are capped while the parser reads the lines (513 with the cap
 * named), Route lists are split once, and the worst messages that fit in
 * 64 KB cost a few milliseconds at most, measured in the parser and in the
 * CPU time of a running node.
 */
const SERVER = testIp(110, 21);
const PROXY = { host: SERVER, port: 5060 };

const base = (method: string, extra: readonly string[], viaHost = testIp(110, 22)) => [
  `${method} sip:bob@example.test SIP/2.0`,
  `Via: SIP/2.0/UDP ${viaHost}:5999;branch=z9hG4bK${Math.random().toString(36).slice(2)};rport`,
  ...extra,
  `From: <sip:caller@elsewhere.test>;tag=1`,
  `To: <sip:bob@example.test>`,
  `Call-ID: caps-${Math.random().toString(36).slice(2)}`,
  `CSeq: 1 ${method}`,
  "Max-Forwards: 70",
];

/** Fill a header with as many entries of `entry` as fit in about 60 KB. */
function filled(name: string, entry: string, perLine: number): string[] {
  const lines: string[] = [];
  let size = 0;
  const line = `${name}: ${Array.from({ length: perLine }, () => entry).join(", ")}`;
  while (size + line.length + 2 <= 60_000) {
    lines.push(line);
    size += line.length + 2;
  }
  return lines;
}

/** The worst cases we could build within the 64 KB limit, each with the answer it must get. */
function worstCases(): Array<{ name: string; message: Buffer; expect: RegExp }> {
  const own = `<sip:${SERVER}:5060;lr>`;
  const long = "x".repeat(1800);
  return [
    { name: "2,500 Route entries naming us, one line", message: sipMessage(base("OPTIONS", filled("Route", own, Math.floor(59_000 / (own.length + 2))))), expect: /^SIP\/2\.0 513 Message Too Large \(more than 32 Route entries\)/ },
    { name: "Route entries naming us, one per line", message: sipMessage(base("OPTIONS", filled("Route", own, 1))), expect: /^SIP\/2\.0 513 Message Too Large \(more than 32 Route entries\)/ },
    { name: "32 long Route entries naming us (at the cap)", message: sipMessage(base("OPTIONS", [`Route: ${Array.from({ length: 32 }, () => `<sip:${SERVER}:5060;lr;p=${long}>`).join(", ")}`])), expect: /^SIP\/2\.0 (404|200|403|483)/ },
    { name: "thousands of Via entries", message: sipMessage(base("OPTIONS", filled("Via", `SIP/2.0/UDP ${testNet(110)}.23:5060;branch=z9hG4bKv`, 200))), expect: /^SIP\/2\.0 513 Message Too Large \(more than 64 Via entries\)/ },
    { name: "64 Via entries of ours (loop check at the cap)", message: sipMessage(base("OPTIONS", Array.from({ length: 63 }, (_, i) => `Via: SIP/2.0/UDP ${SERVER}:5060;branch=z9hG4bK-t${"a".repeat(10)}-${i};p=${"y".repeat(800)}`))), expect: /^SIP\/2\.0 /},
    { name: "thousands of Contact entries", message: sipMessage(base("REGISTER", filled("Contact", `<sip:a@${testNet(110)}.24>`, 100)).map((l) => l.replace("REGISTER sip:bob@example.test", "REGISTER sip:example.test"))), expect: /^SIP\/2\.0 513 Message Too Large \(more than 32 Contact entries\)/ },
    { name: "thousands of Record-Route entries", message: sipMessage(base("INVITE", filled("Record-Route", `<sip:${testNet(110)}.25;lr>`, 100))), expect: /^SIP\/2\.0 513 Message Too Large \(more than 32 Record-Route entries\)/ },
    { name: "thousands of short header lines", message: sipMessage(base("OPTIONS", Array.from({ length: 4000 }, (_, i) => `X-H${i}: ${i}`))), expect: /^SIP\/2\.0 513 Message Too Large \(more than 256 header lines\)/ },
    { name: "one 60 KB header value", message: sipMessage(base("OPTIONS", [`Subject: ${"s".repeat(60_000)}`])), expect: /^SIP\/2\.0 /},
    { name: "one 60 KB folded header", message: sipMessage(base("OPTIONS", [`Subject: a`, ...Array.from({ length: 200 }, () => ` ${"f".repeat(290)}`)])), expect: /^SIP\/2\.0 /},
    { name: "quotes and commas in a 60 KB Contact display name", message: sipMessage(base("OPTIONS", [`Contact: "${'\\",'.repeat(19_000)}" <sip:a@${testNet(110)}.24>`])), expect: /^SIP\/2\.0 /},
  ];
}

describe("issue-10 item 4: header caps and the cost of one message", () => {
  it("the parser refuses each list over its cap with 513 and the cap named, and accepts a list at the cap", () => {
    const at = (n: number) => sipMessage(base("OPTIONS", [`Route: ${Array.from({ length: n }, () => `<sip:${testNet(110)}.30;lr>`).join(", ")}`]));
    assert.equal(parseMessage(at(DEFAULT_MESSAGE_LIMITS.maxRoute)).ok, true);
    const over = parseMessage(at(DEFAULT_MESSAGE_LIMITS.maxRoute + 1));
    assert.ok(!over.ok);
    assert.equal(over.error.status, 513);
    assert.equal(over.error.reason, "more than 32 Route entries");
    // Entries across lines add up; commas inside quotes and <> do not count.
    const split = parseMessage(sipMessage(base("OPTIONS", Array.from({ length: 33 }, () => `Route: <sip:${testNet(110)}.30;lr>`))));
    assert.ok(!split.ok && split.error.status === 513);
    const quoted = parseMessage(sipMessage(base("OPTIONS", [`Contact: "a, b, c" <sip:a@${testNet(110)}.30;x=1>`])));
    assert.ok(quoted.ok);
    // Caps are options.
    assert.equal(parseMessage(at(5), { limits: { ...DEFAULT_MESSAGE_LIMITS, maxRoute: 4 } }).ok, false);
  });

  it("no worst-case message costs the parser more than a few milliseconds", () => {
    for (const c of worstCases()) {
      for (let i = 0; i < 5; i++) parseMessage(c.message); // warm up
      // CPU time (not wall time: the machine may be busy with other work), per message.
      const times: number[] = [];
      for (let i = 0; i < 100; i++) {
        const t = process.cpuUsage();
        parseMessage(c.message);
        const d = process.cpuUsage(t);
        times.push((d.user + d.system) / 1000);
      }
      times.sort((a, b) => a - b);
      const median = times[50]!;
      assert.ok(median < 2, `${c.name}: median ${median.toFixed(2)} ms`);
      assert.ok(times[90]! < 5, `${c.name}: 90th percentile ${times[90]!.toFixed(2)} ms of CPU`);
    }
  });

  describe("against a running node", () => {
    let server: ThorProcess;
    before(async () => {
      server = startThor("sip-caps", ["sip", "--domain", "example.test", "--listen", `udp:${SERVER}:5060`, "--rate", "100000"]);
      await server.waitForLog((l) => l.msg === "SIP server ready", 15_000, "SIP server ready");
    });
    after(async () => {
      await server?.stop();
    });

    it("answers each worst case as it must, using on average under 3 ms of CPU per message", async () => {
      const cases = worstCases();
      const rounds = 30;
      const client = await udpClient(testIp(110, 22));
      try {
        // First round: check the answers.
        for (const c of cases) {
          const before = client.got.length;
          client.socket.send(c.message, PROXY.port, PROXY.host);
          await waitFor(() => client.got.length > before, { timeoutMs: 5000, message: `answer to "${c.name}"` });
          assert.match(client.got.at(-1)!, c.expect, c.name);
        }
        // Then many rounds, paced by the answers, measuring the node's CPU time.
        const cpu0 = cpuMs(server.pid);
        const got0 = client.got.length;
        for (let r = 0; r < rounds; r++) {
          for (const c of cases) client.socket.send(c.message, PROXY.port, PROXY.host);
          await waitFor(() => client.got.length >= got0 + (r + 1) * cases.length, { timeoutMs: 10_000, message: `round ${r} answered` });
        }
        const perMessage = (cpuMs(server.pid) - cpu0) / (rounds * cases.length);
        assert.ok(perMessage < 3, `${perMessage.toFixed(2)} ms of CPU per worst-case message`);
        assert.ok(server.alive);
      } finally {
        client.close();
      }
    });
  });
});
