import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import https from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { silentLogger, systemClock } from "../../src/base/index.js";
import { operatorCertificateCheck } from "../../src/cli/commands/dashboard.js";
import { LocalHub } from "../../src/events/index.js";
import { DashboardServer, DashboardSettingsError, NetworkView, OperatorAuth, dashboardState } from "../../src/monitor/index.js";
import type { Entity } from "../../src/overlay/index.js";
import { initCa, issueCertificate, TlsIdentity } from "../../src/pki/index.js";
import { waitFor } from "../support/wait-for.js";
import { publishTable } from "../support/membership.js";
import { testIp } from "../support/slot.js";

/**
 * The dashboard server in process, over real sockets on testIp(161, 0)/24:
 * who gets in over HTTPS (operator certificate, token; a monitor
 * certificate is refused with 403, nothing with 401), the bound on live
 * streams, live pushes on a membership change, and the refusal of plain
 * HTTP off loopback.
 */
const HOST = testIp(161, 1);
const TOKEN = "operator-token-for-tests-0123456789";

const entity = (id: string, ip: string, roles: string[]): Entity => ({ id, ip, roles, version: "t", ports: {}, attrs: {}, startedAt: 1 });

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

describe("dashboard server", () => {
  const dir = mkdtempSync(join(tmpdir(), "thor-dashboard-"));
  const hub = new LocalHub();
  const manager = hub.attach({ OU: "manager", CN: "mgr1" });
  const view = new NetworkView(systemClock);
  let identity: TlsIdentity;
  let server: DashboardServer;
  const cert = (name: string) => ({ cert: readFileSync(join(dir, "certs", `${name}.crt`)), key: readFileSync(join(dir, "certs", `${name}.key`)) });
  let ca: Buffer;

  /** One HTTPS request; `as` names the client certificate presented. */
  const get = (path: string, opts: { as?: string; headers?: Record<string, string>; method?: string; body?: string } = {}): Promise<Answer> =>
    new Promise((resolve, reject) => {
      const req = https.request(
        { host: HOST, port: server.address!.port, path, method: opts.method ?? "GET", ca, ...(opts.as ? cert(opts.as) : {}), checkServerIdentity: () => undefined, headers: opts.headers ?? {}, agent: false },
        (res) => {
          let body = "";
          res.setEncoding("utf8");
          // An event stream never ends: the first frame is enough.
          res.on("data", (c: string) => {
            body += c;
            if (res.headers["content-type"]?.startsWith("text/event-stream") && body.includes("\n\n", body.indexOf("event: state"))) {
              resolve({ status: res.statusCode ?? 0, headers: res.headers, body });
              res.destroy();
            }
          });
          res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
        },
      );
      req.on("error", reject);
      req.end(opts.body);
    });

  before(async () => {
    await initCa(dir, { commonName: "dashboard test CA" });
    for (const [name, ou] of [["dashboard", "monitor"], ["ops", "operator"], ["watcher", "monitor"]] as const) await issueCertificate(dir, name, { ip: [HOST], ou, roles: ["monitor"] });
    ca = readFileSync(join(dir, "ca.crt"));
    identity = await TlsIdentity.load({ ca: join(dir, "ca.crt"), ...{ cert: join(dir, "certs", "dashboard.crt"), key: join(dir, "certs", "dashboard.key") } });
    view.attach(hub.attach({ OU: "monitor", CN: "dashboard" }));
    server = new DashboardServer({ host: HOST, port: 0, logger: silentLogger, view, auth: new OperatorAuth([TOKEN]), tls: { ...cert("dashboard"), ca }, checkCertificate: operatorCertificateCheck(identity), maxClients: 2, pushIntervalMs: 50, throttle: { failures: 5, windowMs: 60_000 } });
    await server.start();
  });

  after(async () => {
    await server?.stop();
    identity?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("lets in an operator certificate or the token; refuses a monitor certificate (403) and no credential (401)", async () => {
    assert.equal((await get("/api/state", { as: "ops" })).status, 200);
    assert.equal((await get("/api/state", { headers: { authorization: `Bearer ${TOKEN}` } })).status, 200);
    const monitor = await get("/api/state", { as: "watcher" });
    assert.equal(monitor.status, 403);
    assert.match(monitor.body, /not an operator certificate/);
    const none = await get("/api/state");
    assert.equal(none.status, 401);
    assert.match(String(none.headers["www-authenticate"]), /Bearer/);
    // A valid token beats a certificate that is not an operator's.
    assert.equal((await get("/api/state", { as: "watcher", headers: { authorization: `Bearer ${TOKEN}` } })).status, 200);
    const page = await get("/", { as: "ops" });
    assert.equal(page.status, 200);
    assert.match(String(page.headers["content-security-policy"]), /script-src 'self'/);
  });

  it("the login form sets an HttpOnly, SameSite=Strict, Secure cookie for the right token only", async () => {
    const form = { "content-type": "application/x-www-form-urlencoded" };
    const wrong = await get("/login", { method: "POST", headers: form, body: "token=wrong-token-0123456789abcdef" });
    assert.equal(wrong.status, 401);
    const right = await get("/login", { method: "POST", headers: form, body: `token=${encodeURIComponent(TOKEN)}` });
    assert.equal(right.status, 303);
    const cookie = String(right.headers["set-cookie"]);
    assert.match(cookie, /HttpOnly/);
    assert.match(cookie, /SameSite=Strict/);
    assert.match(cookie, /Secure/);
    assert.equal((await get("/api/state", { headers: { cookie: cookie.split(";")[0]! } })).status, 200);
  });

  it("streams the state, pushes membership changes live and serves at most maxClients streams", async () => {
    const streams: Array<{ frames: string[]; close: () => void }> = [];
    const open = () =>
      new Promise<{ status: number; frames: string[]; close: () => void }>((resolve, reject) => {
        const frames: string[] = [];
        const req = https.request({ host: HOST, port: server.address!.port, path: "/api/events", ca, ...cert("ops"), checkServerIdentity: () => undefined, agent: false }, (res) => {
          let buf = "";
          res.setEncoding("utf8");
          res.on("data", (c: string) => {
            buf += c;
            for (let i = buf.indexOf("\n\n"); i >= 0; i = buf.indexOf("\n\n")) {
              frames.push(buf.slice(0, i));
              buf = buf.slice(i + 2);
            }
          });
          resolve({ status: res.statusCode ?? 0, frames, close: () => req.destroy() });
        });
        req.on("error", (err) => (req.destroyed ? undefined : reject(err)));
        req.end();
      });
    const a = await open();
    const b = await open();
    streams.push(a, b);
    assert.equal(a.status, 200);
    await waitFor(() => server.clientCount === 2, { message: "two streams" });
    const third = await open();
    assert.equal(third.status, 503, "a third stream is refused");
    third.close();
    await waitFor(() => a.frames.some((f) => f.startsWith("event: state")), { message: "first state" });
    publishTable(manager, { epoch: 1, seq: 1, manager: "mgr1", at: Date.now(), members: [entity("n1", "10.0.0.1", ["sip_proxy"]), entity("n2", "10.0.0.2", ["sip_proxy", "media_relay"])] });
    const state = await waitFor(
      () => {
        const last = [...b.frames].reverse().find((f) => f.startsWith("event: state"));
        const st = last ? (JSON.parse(last.slice(last.indexOf("data: ") + 6)) as ReturnType<typeof dashboardState>) : undefined;
        return st && st.members.length === 2 ? st : undefined;
      },
      { message: "the pushed state lists both members" },
    );
    assert.deepEqual(state.rings.map((r) => [r.role, r.arcs.map((x) => x.id)]), [["media_relay", ["n2"]], ["sip_proxy", ["n1", "n2"]]]);
    const sip = state.rings.find((r) => r.role === "sip_proxy")!;
    assert.ok(Math.abs(sip.arcs.reduce((t, x) => t + x.share, 0) - 1) < 1e-9);
    assert.equal(sip.arcs[1]!.start, sip.arcs[0]!.end, "arcs follow each other round the circle");
    for (const s of streams) s.close();
    await waitFor(() => server.clientCount === 0, { message: "streams closed" });
  });

  it("refuses plain HTTP off loopback, and tokens shorter than 16 characters", async () => {
    const plain = new DashboardServer({ host: "0.0.0.0", port: 0, logger: silentLogger, view, auth: new OperatorAuth([TOKEN]) });
    await assert.rejects(plain.start(), DashboardSettingsError);
    assert.throws(() => new OperatorAuth(["short"]), RangeError);
  });

  // Last: it throttles this test's source address.
  it("throttles token guessing per source address: 429 with Retry-After after 5 wrong tokens, then even for the right one", async () => {
    let status = 0;
    let tries = 0;
    for (; tries < 10 && status !== 429; tries++) status = (await get("/api/state", { headers: { authorization: `Bearer guess-${tries}-0123456789abcdef` } })).status;
    assert.equal(status, 429);
    assert.equal(tries, 6, "five wrong tokens (the login test's right token cleared its wrong one), then 429");
    const blocked = await get("/api/state", { headers: { authorization: `Bearer ${TOKEN}` } });
    assert.equal(blocked.status, 429);
    assert.match(String(blocked.headers["retry-after"]), /^\d+$/);
    const login = await get("/login", { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded" }, body: `token=${encodeURIComponent(TOKEN)}` });
    assert.equal(login.status, 429, "the login form is throttled too");
  });
});
