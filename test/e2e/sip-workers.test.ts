import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import dgram from "node:dgram";
import { writeFileSync } from "node:fs";
import { issueCertificate } from "../../src/pki/index.js";
import { FORMATION_MS, Lab } from "../support/lab.js";
import { startThor, type LogLine, type ThorProcess } from "../support/processes.js";
import { describeRun, sipp, waitBound } from "../support/sipp.js";
import { waitFor } from "../support/wait-for.js";
import { testNet } from "../support/slot.js";

/**
 * One host serving SIP with two worker processes (`thor node --sip-workers 2`,
 * docs/sip-cluster.md "Every core of a host") on testNet(220).0/24: the
 * public UDP port testIp(220, 100):5060 is shared by both workers through
 * SO_REUSEPORT; each worker is a member of the ring of its own
 * (testIp(220, 101) and .102). Phones on several source ports land on both
 * workers (the kernel hashes the 4-tuple); their retransmissions, calls
 * and CANCELs are served by the worker that holds the transaction; a
 * killed worker is started again and serves its phones again.
 */
const SUBNET = testNet(220);
const HOST = `${SUBNET}.100`;
const WORKER_IPS = [`${SUBNET}.101`, `${SUBNET}.102`];
const PHONES = `${SUBNET}.60`;
const CALLEE = `${SUBNET}.61`;
const DOMAIN = "example.com";
/** Source ports of the phones: enough that both workers get some (the kernel's hash picks). */
const PORTS = Array.from({ length: 12 }, (_, i) => 5100 + 2 * i);
const USERS = ["alice", "bob", "carol", ...PORTS.map((_, i) => `p${i}`)];
const password = (u: string) => `${u}-secret`;

/** A REGISTER without credentials from `port`, sent `times` times with the same branch: the nonces of the 401s. */
async function challengeNonces(port: number, user: string, times: number): Promise<string[]> {
  const socket = dgram.createSocket("udp4");
  await new Promise<void>((r) => socket.bind(port, PHONES, r));
  const nonces: string[] = [];
  socket.on("message", (m) => {
    const nonce = /nonce="([^"]+)"/.exec(m.toString())?.[1];
    if (nonce) nonces.push(nonce);
  });
  const text = [`REGISTER sip:${DOMAIN} SIP/2.0`, `Via: SIP/2.0/UDP ${PHONES}:${port};branch=z9hG4bK-rt-${port}-${Date.now()};rport`, `From: <sip:${user}@${DOMAIN}>;tag=t${port}`, `To: <sip:${user}@${DOMAIN}>`, `Call-ID: rt-${port}-${Date.now()}@${PHONES}`, "CSeq: 1 REGISTER", `Contact: <sip:${user}@${PHONES}:${port}>`, "Max-Forwards: 70", "Content-Length: 0", "", ""].join("\r\n");
  try {
    for (let i = 0; i < times; i++) {
      socket.send(text, 5060, HOST);
      // The next copy once this one was answered: a retransmission of a request whose transaction exists.
      await waitFor(() => nonces.length > i || undefined, { timeoutMs: 5000, message: `answer ${i + 1} on port ${port}` });
    }
  } finally {
    socket.close();
  }
  return nonces;
}

describe("SIP workers: one host, two cores, one shared UDP port", () => {
  let lab: Lab;
  let host: ThorProcess;
  const stat = (id: string, name: string) => lab.view.statistics.get(id)?.roles["sip_proxy"]?.[name] ?? 0;
  const workerIds = ["host1-w1", "host1-w2"];

  before(async () => {
    lab = await Lab.create({ subnet: SUBNET, eventServers: 1, managers: 1, nodes: [] });
    writeFileSync(lab.plan.usersFile, USERS.map((u) => `[[users]]\nusername = "${u}"\npassword = "${password(u)}"\n`).join("\n"));
    // One member certificate per worker, at its member address.
    for (const [i, ip] of WORKER_IPS.entries()) await issueCertificate(lab.plan.caDir, workerIds[i]!, { ip: [ip], ou: "node", roles: ["sip_proxy"], force: true });
    for (const kind of ["eventserver", "manager", "database"] as const) for (const m of lab.of(kind)) lab.start(m.name);
    await lab.observe();
    host = startThor("host1", [
      "node", "--name", "host1", "--ip", HOST, "--sip-workers", "2", "--worker-ips", WORKER_IPS.join(","), "--roles", "sip_proxy",
      "--sip-listen", `udp:${HOST}:5060`, "--sip-domains", DOMAIN, "--users", lab.plan.usersFile, "--algorithms", "MD5", "--lookup-port", "0",
      "--ca-dir", lab.plan.caDir, "--event-servers", lab.plan.eventServers.join(","), "--log-format", "json",
      "--presence-interval-ms", "500", "--statistics-interval-ms", "1000", "--cut-off-ms", "2000",
    ]);
    await waitFor(() => workerIds.every((id) => lab.view.snapshot?.members.some((m) => m.id === id && m.attrs["sip_host"] === HOST)) || undefined, { timeoutMs: FORMATION_MS, message: "both workers in the snapshot, naming their host" });
    await waitFor(() => workerIds.every((id) => lab.view.statistics.has(id)) || undefined, { timeoutMs: 10_000, message: "statistics of both workers" });
  });

  after(async () => {
    await host?.stop("SIGTERM", 8000);
    await lab?.stop();
  });

  const keys = (user: string, extra: Record<string, string> = {}) => ({ user, pass: password(user), domain: DOMAIN, ...extra });

  async function registerEveryPhone(): Promise<void> {
    for (const [i, port] of PORTS.entries()) {
      const r = await sipp({ scenario: "register.xml", localIp: PHONES, localPort: port, remote: `${HOST}:5060`, keys: keys(`p${i}`, { contact: `sip:p${i}@${PHONES}:${port}`, expires: "3600" }) }).done;
      assert.equal(r.code, 0, describeRun(`register p${i} from port ${port}`, r));
    }
  }

  /** A call from every phone port to bob (a SIPp UAS), through the shared port; `cancel`: each caller cancels while it rings. */
  async function callFromEveryPort(cancel: boolean): Promise<void> {
    const uas = sipp({ scenario: cancel ? "uas-cancel.xml" : "uas.xml", localIp: CALLEE, localPort: 5070, calls: PORTS.length, timeoutS: 60, keys: { caller: "alice", callee: "bob", domain: DOMAIN } });
    await waitBound("udp", CALLEE, 5070);
    for (const port of PORTS) {
      const r = await sipp({ scenario: cancel ? "uac-cancel.xml" : "uac.xml", localIp: PHONES, localPort: port, remote: `${HOST}:5060`, keys: keys("alice", { callee: "bob" }) }).done;
      assert.equal(r.code, 0, describeRun(`${cancel ? "cancelled call" : "call"} from port ${port}`, r));
    }
    const s = await uas.done;
    assert.equal(s.code, 0, describeRun("callee", s));
    // The worker named its own port in its Via (responses come back to it) and the shared port in its Record-Route.
    const invite = s.messages.slice(s.messages.lastIndexOf("INVITE sip:"));
    const head = invite.slice(0, invite.indexOf("\n\n"));
    assert.match(head, new RegExp(`^Via: SIP/2.0/UDP ${HOST.replaceAll(".", "\\.")}:506[12];`, "m"), head);
    assert.match(head, new RegExp(`^Record-Route: <sip:[^@>]+@${HOST.replaceAll(".", "\\.")}:5060;`, "m"), head);
    // One worker on the path: a callee registered through the other worker, without a NAT binding, is reached directly.
    assert.equal(head.split("\n").filter((l) => /^Via:/i.test(l) && !l.includes(PHONES)).length, 1, head);
  }

  async function registerBob(): Promise<void> {
    const r = await sipp({ scenario: "register.xml", localIp: CALLEE, localPort: 5071, remote: `${HOST}:5060`, keys: keys("bob", { contact: `sip:bob@${CALLEE}:5070`, expires: "3600" }) }).done;
    assert.equal(r.code, 0, describeRun("register bob", r));
  }

  /** Both workers' counters, once a report newer than `since` came from each. */
  async function counters(name: string, since: number): Promise<number[]> {
    await waitFor(() => workerIds.every((id) => (lab.view.statistics.get(id)?.at ?? 0) > since) || undefined, { timeoutMs: 10_000, message: "fresh statistics of both workers" });
    return workerIds.map((id) => stat(id, name));
  }

  it("REGISTERs through the shared port land on both workers; each AOR is held by both", async () => {
    await registerEveryPhone();
    const regs = await counters("registrations", Date.now());
    assert.ok(regs.every((n) => n > 0), `registrations per worker: ${regs.join(", ")} (the kernel spreads the 12 source ports)`);
    const bindings = await counters("bindings", Date.now());
    assert.deepEqual(bindings, [PORTS.length, PORTS.length], "both workers hold every binding (two holders, both on this host)");
  });

  it("a retransmitted request reaches the worker that holds its transaction (the same challenge comes back)", async () => {
    for (const port of PORTS) {
      const nonces = await challengeNonces(port + 1, "alice", 2);
      assert.equal(nonces.length, 2, `two answers for port ${port + 1}`);
      assert.equal(nonces[0], nonces[1], `the retransmission from port ${port + 1} got its transaction's 401 again, not a new challenge`);
    }
  });

  it("calls and CANCELs from phones on both workers reach a callee registered through either", async () => {
    await registerBob();
    const calls0 = await counters("calls", Date.now());
    await callFromEveryPort(false);
    await callFromEveryPort(true);
    const calls = await counters("calls", Date.now());
    assert.ok(calls.every((n, i) => n > calls0[i]!), `calls per worker: ${calls0.join(", ")} → ${calls.join(", ")}`);
    assert.deepEqual(workerIds.map((id) => stat(id, "remoteLookups")), [0, 0], "both workers hold every AOR: no lookup crossed to the other");
  });

  it("a NATed phone (Contact unlike its source) is reached from the shared port its NAT binding is towards", async () => {
    // carol registers from CALLEE:5072 with a Contact her NAT hides; a UDP socket there answers INVITEs 486.
    const r = await sipp({ scenario: "register.xml", localIp: CALLEE, localPort: 5072, remote: `${HOST}:5060`, keys: keys("carol", { contact: "sip:carol@192.0.2.7:5072", expires: "3600" }) }).done;
    assert.equal(r.code, 0, describeRun("register carol", r));
    const phone = dgram.createSocket("udp4");
    await new Promise<void>((done) => phone.bind(5072, CALLEE, done));
    const sources: string[] = [];
    phone.on("message", (m, rinfo) => {
      const text = m.toString();
      if (!text.startsWith("INVITE ")) return;
      sources.push(`${rinfo.address}:${rinfo.port}`);
      const head = text.slice(0, text.indexOf("\r\n\r\n")).split("\r\n").slice(1);
      const pick = (name: string) => head.filter((l) => l.toLowerCase().startsWith(`${name}:`));
      const answer = ["SIP/2.0 486 Busy Here", ...pick("via"), ...pick("from"), `${pick("to")[0]};tag=busy`, ...pick("call-id"), ...pick("cseq"), "Content-Length: 0", "", ""].join("\r\n");
      phone.send(answer, rinfo.port, rinfo.address);
    });
    try {
      for (const port of PORTS.slice(0, 6)) {
        const c = await sipp({ scenario: "uac-fail.xml", template: { "[final]": "486" }, localIp: PHONES, localPort: port, remote: `${HOST}:5060`, keys: keys("alice", { callee: "carol" }) }).done;
        assert.equal(c.code, 0, describeRun(`call to carol from port ${port}`, c));
      }
    } finally {
      phone.close();
    }
    assert.ok(sources.length >= 6, `INVITEs reached carol: ${sources.length}`);
    assert.deepEqual([...new Set(sources)], [`${HOST}:5060`], "every INVITE left from the shared port");
  });

  it("a killed worker is started again and serves its phones again", async () => {
    const started = (l: LogLine) => l.msg === "SIP worker started" && l["worker"] === "host1-w1";
    const w1 = host.logs.filter(started).at(-1);
    assert.ok(w1 && typeof w1["pid"] === "number", "the supervisor logged worker 1's pid");
    const mark = host.logs.length;
    process.kill(w1["pid"] as number, "SIGKILL");
    await waitFor(() => host.logs.slice(mark).find((l) => started(l) && l["pid"] !== w1["pid"]), { timeoutMs: 10_000, message: "worker 1 started again" });
    const listening = await waitFor(() => host.logs.slice(mark).find((l) => l.member === "host1-w1" && l.msg === "SIP service listening"), { timeoutMs: 20_000, message: "the new worker 1 listening" });
    assert.ok(listening);
    const restartedAt = Date.now();
    // The new worker is back in the membership and gets the AORs handed over by worker 2.
    await waitFor(() => (lab.view.statistics.get("host1-w1")?.at ?? 0) > restartedAt && stat("host1-w1", "bindings") >= PORTS.length + 2 ? true : undefined, { timeoutMs: 20_000, message: "the new worker 1 holds every binding again" });
    await registerEveryPhone();
    await callFromEveryPort(false);
    const calls = await counters("calls", Date.now());
    assert.ok(calls[0]! > 0, `the restarted worker 1 served calls again (calls per worker: ${calls.join(", ")})`);
  });
});
