/**
 * Issue 10, item 14: database credentials are never shown or logged (one
 * redaction function, `redactUri`), and never broadcast: `thor database`
 * refuses to announce a URI with a password. (The event-server passport
 * default, OU=eventserver, is tested in member-links.test.ts.)
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import * as base from "../../src/base/index.js";
import { NetworkView, renderNetwork } from "../../src/monitor/index.js";
import { LocalHub } from "../../src/events/index.js";
import { runThor } from "../support/processes.js";
import { waitFor } from "../support/wait-for.js";
import { testIp, testNet } from "../support/slot.js";

describe("database credentials", () => {
  it("redactUri hides userinfo passwords (also containing @ and :) and password query parameters", () => {
    const redact = (base as unknown as { redactUri?: (u: string) => string }).redactUri;
    assert.ok(redact, "base/ exports redactUri");
    const cases: Array<[string, string]> = [
      ["postgres://thor:s3cret@db1:5432/thor", "postgres://thor:***@db1:5432/thor"],
      ["postgres://thor:p@ss@w0rd@db1/thor", "postgres://thor:***@db1/thor"],
      ["postgres://thor:a:b/c@db1/thor", "postgres://thor:***@db1/thor"],
      ["postgres://db1/thor?user=thor&password=s3cret&sslmode=require", "postgres://db1/thor?user=thor&password=***&sslmode=require"],
      ["postgresql://thor@db1/thor?sslpassword=x", "postgresql://thor@db1/thor?sslpassword=***"],
      ["sqlite:///var/lib/thor/thor.db", "sqlite:///var/lib/thor/thor.db"],
    ];
    for (const [uri, want] of cases) {
      const got = redact(uri);
      assert.equal(got, want, uri);
      assert.ok(!/s3cret|w0rd/.test(got));
    }
  });

  it("the monitor never shows a password of an announced database", async () => {
    const hub = new LocalHub();
    const view = new NetworkView(base.systemClock);
    view.attach(hub.attach({ CN: "monitor", OU: "monitor" }));
    hub.attach({ CN: "db1", OU: "database" }).publish("Thor.Database", { id: "db1", ip: "10.2.0.1", dburi: "postgres://thor:p@ss@db1/thor?password=s3cret", priority: 10 });
    await waitFor(() => view.databases.size === 1, { message: "announcement seen" });
    const text = renderNetwork(view, { width: 200 }) + view.events.map((e) => e.text).join("\n");
    assert.ok(text.includes("db1"), text);
    assert.ok(!/p@ss|s3cret/.test(text), text);
  });

  it("thor database refuses to broadcast a URI that carries a password (exit 2, saying where the password goes)", async () => {
    const r = await runThor(["database", "--name", "db1", "--ip", testIp(120, 21), "--event-servers", `${testNet(120)}.1:8000`, "--dburi", `postgres://thor:s3cret@${testNet(120)}.21/thor`], {}, 20_000);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /PGPASSWORD/);
    assert.ok(!r.stderr.includes("s3cret"), r.stderr);
  });
});
