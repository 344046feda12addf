import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import net from "node:net";
import tls from "node:tls";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { silentLogger } from "../../src/base/index.js";
import { EventClient, FrameType, encodeFrame, parseEndpoint } from "../../src/events/index.js";
import { initCa, issueCertificate, TlsIdentity } from "../../src/pki/index.js";
import { queryLookup } from "../../src/overlay/index.js";
import { FORMATION_MS, Lab } from "../support/lab.js";
import { runThor, startThor, type ThorProcess } from "../support/processes.js";
import { waitFor } from "../support/wait-for.js";
import { testIp, testNet, testNetRe } from "../support/slot.js";

/** Who may join and what may be said: certificates, CRL, passports, bad input. */
describe("overlay security and robustness end to end", () => {
  let lab: Lab;
  const es = () => lab.proc("es1");
  const refusals = () => es().logs.filter((l) => l.msg === "connection refused").map((l) => String(l["reason"]));

  before(async () => {
    lab = await Lab.create({ subnet: testNet(3), eventServers: 1, managers: 1, nodes: [["sip_proxy"], ["sip_proxy"], ["media_relay"]] });
    await lab.startAll();
  });

  after(async () => {
    await lab?.stop();
  });

  it("refuses a member whose certificate comes from another CA", async () => {
    const dir = mkdtempSync(join(tmpdir(), "thor-foreign-"));
    let intruder: ThorProcess | undefined;
    try {
      await initCa(dir, { commonName: "other CA" });
      const other = await issueCertificate(dir, "node9", { ip: [testIp(3, 109)], ou: "node" });
      const before = refusals().length;
      intruder = startThor("node9", ["node", "--name", "node9", "--ip", testIp(3, 109), "--roles", "sip_proxy", "--sip-domains", "example.com", "--lookup-port", "0", "--ca-dir", lab.plan.caDir, "--cert", other.certPath, "--key", other.keyPath, "--event-servers", lab.plan.eventServers.join(",")]);
      // The intruder's start (a whole `thor node` process) and its first dial: slow on a loaded machine.
      await waitFor(() => {
        if (!intruder?.alive) throw new Error(`the intruder exited: ${intruder?.describe()}`);
        return refusals().length > before;
      }, { timeoutMs: FORMATION_MS, message: "refusal logged by es1" });
      assert.match(refusals().at(-1)!, /TLS handshake failed|not authorized by CA/);
      assert.ok(!lab.memberIds().includes("node9"));
    } finally {
      // Killed also when an assertion failed: it must not stay on the network for the next tests.
      await intruder?.stop("SIGKILL", 5_000);
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("revoking a running member drops its live connection, and it cannot come back", async () => {
    const victim = lab.member("node3");
    const res = await runThor(["ca", "revoke", victim.name, "--dir", lab.plan.caDir]);
    assert.equal(res.code, 0, res.stderr);
    await waitFor(() => es().logs.some((l) => l.msg === "connection refused" && /live connection dropped/.test(String(l["reason"]))), {
      timeoutMs: 10_000,
      message: "es1 drops the revoked member's live connection",
    });
    await waitFor(() => !lab.memberIds().includes(victim.name), { timeoutMs: 10_000, message: "revoked node expires from the snapshot" });
    await lab.proc(victim.name).stop("SIGKILL");
    const before = refusals().length;
    lab.start(victim.name);
    await waitFor(() => refusals().length > before, { timeoutMs: FORMATION_MS, message: "revoked certificate refused at the handshake" });
    assert.ok(!lab.memberIds().includes(victim.name));
    await lab.proc(victim.name).stop("SIGKILL");
  });

  it("a node may not publish membership snapshots, nor announce another member", async () => {
    const node = lab.member("node2");
    const identity = await TlsIdentity.load({ ca: join(lab.plan.caDir, "ca.crt"), cert: node.cert, key: node.key });
    const rogue = new EventClient({ identity, logger: silentLogger, servers: lab.plan.eventServers.map((s) => parseEndpoint(s)) });
    try {
      await rogue.start();
      await waitFor(() => rogue.upCount === 1, { message: "rogue connected" });
      const epoch = lab.view.snapshot!.epoch;
      rogue.publish("Thor.Members", { kind: "delta", epoch: epoch + 1000, seq: 1, manager: "node2", at: Date.now(), count: 0, digest: "0000000000000000", upsert: [], remove: [] });
      await waitFor(() => es().logs.some((l) => l.msg === "publication refused by publish policy" && l["topic"] === "Thor.Members"), { message: "publish policy refusal" });
      rogue.publish("Thor.MembersTable", { epoch: epoch + 1000, seq: 1, manager: "node2", at: Date.now(), count: 0, digest: "0000000000000000", part: 0, parts: 1, data: "" });
      await waitFor(() => es().logs.some((l) => l.msg === "publication refused by publish policy" && l["topic"] === "Thor.MembersTable"), { message: "publish policy refusal of a table" });
      rogue.publish("Thor.Presence", { id: "node1", ip: testIp(3, 250), roles: ["sip_proxy"], version: "x", ports: {}, attrs: {}, startedAt: 1 });
      await lab.proc("mgr1").waitForLog((l) => l.msg === "presence refused", 10_000, "spoofed presence refused");
      assert.ok(lab.view.snapshot!.epoch < epoch + 1000);
      assert.ok(!lab.view.snapshot!.members.some((m) => m.ip === testIp(3, 250)));
    } finally {
      await rogue.close();
      identity.close();
    }
  });

  it("malformed and oversized frames close that connection only", async () => {
    const node = lab.member("node1");
    const opts = { host: testIp(3, 1), port: 8000, ca: readFileSync(join(lab.plan.caDir, "ca.crt")), cert: readFileSync(node.cert), key: readFileSync(node.key), checkServerIdentity: () => undefined };
    const payloads = [
      Buffer.from("GET / HTTP/1.1\r\nHost: x\r\n\r\n"),
      Buffer.from([0x7f, 0xff, 0xff, 0xff, 3]),
      Buffer.concat([Buffer.from([0, 0, 0, 4, FrameType.SUBSCRIBE]), Buffer.from("{x]")]),
    ];
    for (const bytes of payloads) {
      const closed = await new Promise<boolean>((resolve, reject) => {
        const s = tls.connect(opts, () => s.write(bytes));
        s.resume(); // read to the end, or the close is never seen
        s.on("error", () => undefined);
        s.on("close", () => resolve(true));
        setTimeout(() => reject(new Error(`server did not close the connection after ${bytes.subarray(0, 8).toString("hex")}`)), 5000).unref();
      });
      assert.ok(closed);
    }
    await waitFor(() => es().logs.filter((l) => l.msg === "protocol error, closing connection").length >= 3, { message: "three protocol errors logged" });
    // The server keeps serving: a subscription still works.
    assert.equal(lab.observer.upCount, 1);
    const sub = tls.connect(opts, () => sub.write(encodeFrame({ type: FrameType.SUBSCRIBE, body: { topics: ["Thor.Manager"] } })));
    let got = 0;
    sub.on("data", (c: Buffer) => (got += c.length));
    sub.on("error", () => undefined);
    try {
      await waitFor(() => got > 100, { timeoutMs: 10_000, message: `more than 100 bytes of Thor.Manager on a new subscription (got ${got})` });
    } finally {
      sub.destroy();
    }
    assert.ok(es().alive);
  });

  it("the lookup port answers garbage with errors and keeps serving", async () => {
    const node = lab.member("node1");
    const answers = await queryLookup(node.ip, 9500, ["hello", "lookup sip_proxy for", "is_online 1.2.3.4", "lookup sip_proxy for alice@example.com"]);
    assert.equal(answers.length, 4);
    for (const a of answers.slice(0, 3)) assert.match(a, /^error: /);
    assert.match(answers[3]!, new RegExp(String.raw`^${testNetRe(3)}\.\d+$`));
    const long = net.connect(9500, node.ip, () => long.write(Buffer.alloc(4096, 0x41)));
    let closedAfter = "";
    let closed = false;
    long.setEncoding("utf8").on("data", (d: string) => (closedAfter += d));
    long.on("error", () => undefined);
    long.on("close", () => (closed = true));
    try {
      await waitFor(() => closed, { timeoutMs: 10_000, message: `the lookup port closes a connection after a 4 KB line (answered ${JSON.stringify(closedAfter)})` });
    } finally {
      long.destroy();
    }
    assert.match(closedAfter, /^error: line too long/);
    const [again] = await queryLookup(node.ip, 9500, ["lookup sip_proxy for bob@example.com"]);
    assert.match(again!, new RegExp(String.raw`^${testNetRe(3)}\.\d+$`));
  });
});
