import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { chromium, type Browser, type Page } from "playwright-core";
import { Lab } from "../support/lab.js";
import { waitFor } from "../support/wait-for.js";
import { testNet } from "../support/slot.js";

/**
 * The web dashboard in a real headless Chromium (Debian `chromium`, driven
 * by playwright-core), against a lab network of real `thor` processes on
 * testIp(160, 0)/24 with `thor dashboard` at .40: unauthenticated requests are
 * refused; after signing in with the operator token the page shows every
 * node and one arc per node on each role's ring; a node killed with SIGKILL
 * disappears from the page, live, within the detection time (the lab's
 * managers expire a silent member after 2 s), without a reload.
 */
const SUBNET = testNet(160);
const PORT = 9180;
const CHROMIUM = "/usr/bin/chromium";
/** The lab managers' member timeout (fast timings) plus a snapshot, the push interval and a loaded machine's slack. */
const DETECTION_BUDGET_MS = 10_000;

describe("web dashboard in headless Chromium", { timeout: 120_000 }, () => {
  let lab: Lab;
  let browser: Browser | undefined;
  let page: Page;
  let url: string;
  let token: string;

  before(async () => {
    assert.ok(existsSync(CHROMIUM), `${CHROMIUM} missing: run scripts/ensure-system-deps.sh (Debian chromium)`);
    lab = await Lab.create({ subnet: SUBNET, dashboardPort: PORT, nodes: [["sip_proxy", "media_relay"], ["sip_proxy"], ["sip_proxy", "media_relay"]] });
    url = lab.plan.dashboard!.url;
    token = lab.plan.dashboard!.token;
    await lab.startAll();
    lab.start("dashboard");
    await waitFor(() => fetch(`${url}/login`).then((r) => r.ok), { timeoutMs: 20_000, message: "the dashboard answers" });
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"] });
    page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  });

  after(async () => {
    await browser?.close();
    await lab?.stop();
  });

  it("refuses requests without the operator token (401) or with a wrong one", async () => {
    for (const path of ["/", "/api/state", "/api/events", "/dashboard.js"]) {
      const res = await fetch(`${url}${path}`);
      assert.equal(res.status, 401, `${path} without credentials`);
      assert.match(res.headers.get("www-authenticate") ?? "", /Bearer/);
    }
    const wrong = await fetch(`${url}/api/state`, { headers: { authorization: "Bearer not-the-operator-token-0123" } });
    assert.equal(wrong.status, 401);
    assert.match(await wrong.text(), /invalid operator token/);
    const forged = await fetch(`${url}/api/state`, { headers: { cookie: "thor_dashboard=forged-cookie-value-0123456" } });
    assert.equal(forged.status, 401);
    const ok = await fetch(`${url}/api/state`, { headers: { authorization: `Bearer ${token}` } });
    assert.equal(ok.status, 200);
    // In the browser too: the page itself is refused before signing in.
    const refused = await page.goto(`${url}/`);
    assert.equal(refused?.status(), 401);
    assert.match(await page.textContent("h1") ?? "", /401/);
  });

  it("after signing in, shows the nodes, their roles and an arc per node on each ring", async () => {
    await page.goto(`${url}/login`);
    await page.fill("#token", token);
    await Promise.all([page.waitForURL(`${url}/`), page.click("#sign-in")]);
    await page.waitForSelector("#live.live", { timeout: 10_000 });
    // Waits poll locators (the page's CSP forbids the eval behind string predicates).
    await waitFor(async () => (await page.locator("#members tbody tr").count()) === 3, { timeoutMs: 15_000, message: "3 members on the page" });
    const ids = await page.locator("#members tbody tr").evaluateAll((rows) => rows.map((r) => (r as unknown as { getAttribute(n: string): string | null }).getAttribute("data-node")));
    assert.deepEqual(ids, ["node1", "node2", "node3"]);
    assert.equal(await page.locator('figure.ring[data-role="sip_proxy"] path.arc').count(), 3);
    assert.equal(await page.locator('figure.ring[data-role="media_relay"] path.arc').count(), 2);
    assert.match((await page.textContent("#active-manager")) ?? "", /mgr\d/);
    // Shares of one ring add up to the whole circle.
    const shares = await page.locator('figure.ring[data-role="sip_proxy"] path.arc').evaluateAll((arcs) => arcs.map((a) => Number((a as unknown as { getAttribute(n: string): string | null }).getAttribute("data-share"))));
    assert.ok(Math.abs(shares.reduce((a, b) => a + b, 0) - 1) < 1e-6, `arcs cover the circle: ${shares.join(", ")}`);
    // Per-node figures arrive with Thor.Statistics (every second in the lab).
    await waitFor(async () => (await page.locator('#members tbody tr[data-node="node1"] td.num').allTextContents()).some((t) => t !== "-"), { timeoutMs: 10_000, message: "node1's figures on the page" });
  });

  it("a node killed with SIGKILL disappears from the page within the detection time, without a reload", async () => {
    await page.evaluate(() => ((globalThis as unknown as { sameDocument: boolean }).sameDocument = true));
    const killedAt = Date.now();
    await lab.proc("node3").stop("SIGKILL");
    await waitFor(async () => (await page.locator('#members tr[data-node="node3"], path.arc[data-node="node3"]').count()) === 0, { timeoutMs: DETECTION_BUDGET_MS, message: "node3 gone from the page" });
    const tookMs = Date.now() - killedAt;
    assert.equal(await page.evaluate(() => (globalThis as unknown as { sameDocument?: boolean }).sameDocument), true, "the page was not reloaded");
    assert.equal(await page.locator('figure.ring[data-role="sip_proxy"] path.arc').count(), 2);
    assert.equal(await page.locator('figure.ring[data-role="media_relay"] path.arc').count(), 1);
    assert.match((await page.textContent("#events")) ?? "", /node3 .* left/);
    process.stdout.write(`# node3 left the page ${tookMs} ms after SIGKILL\n`);
  });
});
