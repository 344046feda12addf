#!/usr/bin/env node
// Screenshot of the running demo's web dashboard, for the README:
//   node scripts/dashboard-screenshot.mjs [.thor-demo/network.json] [docs/images/dashboard.png]
// Signs in with the demo's operator token (from network.json) in headless
// Chromium (Debian `chromium`, driven by playwright-core) and waits until the
// page is live and lists every node before it takes the picture.
import { readFileSync } from "node:fs";
import { chromium } from "playwright-core";

const [descPath = ".thor-demo/network.json", out = "docs/images/dashboard.png"] = process.argv.slice(2);
const desc = JSON.parse(readFileSync(descPath, "utf8"));
if (!desc.dashboard) throw new Error(`${descPath} names no dashboard`);
const browser = await chromium.launch({ executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium", headless: true, args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"] });
try {
  const page = await browser.newPage({ viewport: { width: 1400, height: 1000 }, deviceScaleFactor: 1 });
  await page.goto(desc.dashboard.login);
  await page.fill("#token", desc.dashboard.token);
  await Promise.all([page.waitForURL(desc.dashboard.url), page.click("#sign-in")]);
  await page.waitForSelector("#live.live");
  const deadline = Date.now() + 20_000;
  while ((await page.locator("#members tbody tr").count()) < desc.nodes.length && Date.now() < deadline) await page.waitForTimeout(200);
  await page.screenshot({ path: out, fullPage: true });
  process.stdout.write(`wrote ${out}\n`);
} finally {
  await browser.close();
}
