import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { silentLogger } from "../../src/base/index.js";
import { TransportLayer } from "../../src/sip/index.js";
import { startThor, type ThorProcess } from "../support/processes.js";
import { waitFor } from "../support/wait-for.js";
import { options, registerUdp, sipMessage, tcpClient, udpClient, udpExchange } from "./support.js";
import { testIp, testNet } from "../support/slot.js";

/**
 * Issue 10 item 3: one packet must not kill a node. A bad port anywhere
 * (Via rport, Request-URI) is refused when parsed, a send to an unusable
 * destination is a failed send (never a throw out of a timer or promise),
 * and a long-running command logs an uncaught error and keeps serving.
 */
const SERVER = testIp(110, 1);
const PROXY = { host: SERVER, port: 5060 };
const DOMAIN = "example.test";

describe("issue-10 item 3: no crash from a bad port", () => {
  let dir: string;
  let server: ThorProcess;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "thor-crash-"));
    const users = join(dir, "users.toml");
    writeFileSync(users, `[[users]]\nusername = "bob"\npassword = "bob-secret"\n`);
    server = startThor("sip-crash", ["sip", "--domain", DOMAIN, "--listen", `udp:${SERVER}:5060,tcp:${SERVER}:5060`, "--users", users, "--t1-ms", "10", "--algorithms", "MD5", "--rate", "100000"]);
    await server.waitForLog((l) => l.msg === "SIP server ready", 15_000, "SIP server ready");
  });

  after(async () => {
    await server?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  async function stillServing(from: string): Promise<void> {
    const [res] = await udpExchange(from, options(from, `alive${Math.random().toString(36).slice(2)}`), PROXY);
    assert.match(res!, /^SIP\/2\.0 200/);
    assert.ok(server.alive, server.describe());
  }

  it("refuses Via rport=70000 on a TCP INVITE with 400 at once, and survives the connection closing before the final response", async () => {
    const reg = await registerUdp({ ip: testIp(110, 9), to: PROXY, user: "bob", password: "bob-secret", domain: DOMAIN, contacts: [`<sip:bob@${testNet(110)}.9:5070>`] });
    assert.match(reg, /^SIP\/2\.0 200/);
    const c = await tcpClient(testIp(110, 2), PROXY);
    c.socket.write(
      sipMessage([
        `INVITE sip:bob@${DOMAIN} SIP/2.0`,
        `Via: SIP/2.0/TCP ${testNet(110)}.2:5060;branch=z9hG4bKrport70000;rport=70000`,
        `From: <sip:caller@elsewhere.test>;tag=1`,
        `To: <sip:bob@${DOMAIN}>`,
        `Call-ID: rport70000`,
        `CSeq: 1 INVITE`,
        "Max-Forwards: 70",
        `Contact: <sip:caller@${testNet(110)}.2:5060;transport=tcp>`,
      ]),
    );
    await waitFor(() => /\r\n\r\n/.test(c.text()), { timeoutMs: 3000, message: "an answer to the INVITE" });
    assert.match(c.text(), /^SIP\/2\.0 400 Bad Request \(Via rport out of range\)/);
    c.socket.destroy();
    await stillServing(testIp(110, 3));
  });

  it("an ACK to sip:x@ip:0 is dropped at parse time, and the node keeps serving", async () => {
    const c = await udpClient(testIp(110, 4));
    try {
      for (const uri of [`sip:x@${testNet(110)}.9:0`, `sip:x@${testNet(110)}.9:0;transport=tcp`]) {
        c.socket.send(sipMessage([`ACK ${uri} SIP/2.0`, `Via: SIP/2.0/UDP ${testNet(110)}.4:${c.port};branch=z9hG4bKackport0${uri.length}`, `From: <sip:a@elsewhere.test>;tag=1`, `To: <sip:x@${testNet(110)}.9>;tag=2`, `Call-ID: ackport0${uri.length}`, `CSeq: 1 ACK`, "Max-Forwards: 70"]), PROXY.port, PROXY.host);
      }
      // The same through a Route naming port 0.
      c.socket.send(sipMessage([`ACK sip:x@${testNet(110)}.9 SIP/2.0`, `Via: SIP/2.0/UDP ${testNet(110)}.4:${c.port};branch=z9hG4bKackport0r`, `Route: <sip:${testNet(110)}.9:0;lr>`, `From: <sip:a@elsewhere.test>;tag=1`, `To: <sip:x@${testNet(110)}.9>;tag=2`, `Call-ID: ackport0r`, `CSeq: 1 ACK`, "Max-Forwards: 70"]), PROXY.port, PROXY.host);
    } finally {
      c.close();
    }
    await stillServing(testIp(110, 5));
    assert.equal(c.got.length, 0, "an ACK is never answered");
  });

  it("the transport reports an unusable destination as a failed send instead of throwing", async () => {
    const t = new TransportLayer({ logger: silentLogger, listen: [{ transport: "udp", host: testIp(110, 6), port: 0 }] });
    await t.start();
    try {
      const data = Buffer.from("x");
      assert.equal(t.sendTo({ transport: "udp", address: testIp(110, 9), port: 70000 }, data), undefined);
      assert.equal(t.sendTo({ transport: "tcp", address: testIp(110, 9), port: 0 }, data), undefined);
      assert.equal(t.sendTo({ transport: "tcp", address: testIp(110, 9), port: -1 }, data), undefined);
      assert.equal(t.stats.sendErrors, 3);
    } finally {
      await t.stop();
    }
  });
});

describe("issue-10 item 3: the last line of defence of long-running commands", () => {
  it("logs an uncaught exception and an unhandled rejection with their stacks, counts them, and keeps running", async () => {
    const module = fileURLToPath(new URL("../../src/cli/last-resort.js", import.meta.url));
    const script = `
      const { installLastResort, uncaughtErrors } = await import(${JSON.stringify(module)});
      const line = (level) => (o, m) => process.stdout.write(JSON.stringify({ level, msg: m, ...o }) + "\\n");
      const logger = { debug: line("debug"), info: line("info"), warn: line("warn"), error: line("error"), child: () => logger };
      installLastResort(logger);
      setTimeout(() => { throw new Error("boom in a timer"); }, 1);
      Promise.reject(new Error("rejected and forgotten"));
      setTimeout(() => { process.stdout.write(JSON.stringify({ msg: "alive", count: uncaughtErrors() }) + "\\n"); process.exit(0); }, 200);
    `;
    const child = spawn(process.execPath, ["--input-type=module", "-e", script], { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => (out += d));
    const killer = setTimeout(() => child.kill("SIGKILL"), 10_000);
    const code = await new Promise<number | null>((r) => child.once("exit", (c) => r(c)));
    clearTimeout(killer);
    const lines = out.trim().split("\n").map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.equal(code, 0, out);
    const errors = lines.filter((l) => l["msg"] === "uncaught error, still serving");
    assert.deepEqual(errors.map((l) => l["kind"]).sort(), ["uncaughtException", "unhandledRejection"]);
    assert.ok(errors.every((l) => l["level"] === "error" && /at /.test(String(l["stack"]))), out);
    assert.deepEqual(lines.at(-1), { msg: "alive", count: 2 });
  });
});
