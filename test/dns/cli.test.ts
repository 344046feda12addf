import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { Lab } from "../support/lab.js";
import { runThor, startThor, stopAllProcesses } from "../support/processes.js";
import { testIp, testNet } from "../support/slot.js";

const IP = testIp(20, 60);

function dig(args: string[]): Promise<string> {
  return new Promise((resolve, reject) => execFile("dig", [`@${IP}`, "-p", "5302", "+short", ...args], { timeout: 10_000 }, (err, out) => (err ? reject(err) : resolve(out.trim()))));
}

describe("thor dns command", { timeout: 60_000 }, () => {
  let lab: Lab;

  before(async () => {
    lab = await Lab.create({ subnet: testNet(20), nodes: [], dns: 1 });
  });

  after(async () => {
    await lab.stop();
    await stopAllProcesses();
  });

  test("settings that cannot work stop it with exit code 2 and say why", async () => {
    const base = ["dns", "--name", "dns1", "--ca-dir", lab.plan.caDir, "--event-servers", `${testNet(20)}.1:8000`, "--port", "5302"];
    const cases: Array<[string[], RegExp]> = [
      [["--domain", "example.com"], /ip/],
      [["--ip", IP], /no zone to serve/],
      [["--ip", IP, "--domain", "bad zone!"], /invalid zone name/],
      [["--ip", IP, "--domain", "example.com", "--nameservers", "ns1.example.com=nope"], /invalid address "nope"/],
      [["--ip", IP, "--domain", "example.com", "--update-primary", "192.0.2.1:53"], /update_key/],
      [["--ip", IP, "--domain", "example.com", "--listen", "localhost:53"], /not an IP address/],
    ];
    for (const [args, re] of cases) {
      const r = await runThor([...base, ...args], {}, 20_000);
      assert.equal(r.code, 2, `${args.join(" ")}: ${r.stderr}`);
      assert.match(r.stderr, re, args.join(" "));
    }
  });

  test("settings come from a TOML [dns] table, the environment and flags, in that order", async () => {
    const toml = join(lab.plan.dir, "thor.toml");
    writeFileSync(toml, `ca_dir = "${lab.plan.caDir}"\nevent_servers = ["${testNet(20)}.1:8000"]\n\n[dns]\nname = "dns1"\nip = "${testIp(20, 61)}"\nport = 5303\nzones = ["example.net", "example.org"]\nnegative_ttl = 42\n`);
    const p = startThor("dns-toml", ["dns", "--config", toml, "--negative-ttl", "7"], { THOR_ZONES: "example.net" });
    try {
      await p.waitForLog((l) => l.msg === "dns listening (udp, tcp)", 15_000, "listening");
      const at = [`@${testNet(20)}.61`, "-p", "5303", "+short"];
      const soa = await new Promise<string>((resolve, reject) => execFile("dig", [...at, "example.net", "SOA"], { timeout: 10_000 }, (err, out) => (err ? reject(err) : resolve(out.trim()))));
      assert.match(soa, / 7$/, "the flag wins over the file");
      const org = await new Promise<string>((resolve, reject) => execFile("dig", [`@${testNet(20)}.61`, "-p", "5303", "example.org", "SOA"], { timeout: 10_000 }, (err, out) => (err ? reject(err) : resolve(out))));
      assert.match(org, /status: REFUSED/, "the environment wins over the file");
    } finally {
      await p.stop("SIGTERM");
    }
  });

  test("it answers SOA, NS and _eventserver._tcp from its configuration before reaching any event server", async () => {
    // No event server runs in this lab: the bootstrap records are served anyway.
    const p = lab.start("dns1", ["--ip", IP, "--port", "5302", "--nameservers", "ns1.example.com=192.0.2.53,ns2.example.com=192.0.2.54"]);
    await p.waitForLog((l) => l.msg === "dns listening (udp, tcp)", 15_000, "listening");
    assert.equal(await dig(["example.com", "NS"]), "ns1.example.com.\nns2.example.com.");
    assert.equal(await dig(["ns2.example.com", "A"]), "192.0.2.54");
    assert.match(await dig(["_eventserver._tcp.example.com", "SRV"]), /^10 10 8000 eventserver1\.example\.com\./);
    assert.match(await dig(["example.com", "SOA"]), /^ns1\.example\.com\. hostmaster\.example\.com\. \d+ 3600 600 86400 10$/);
    assert.equal(await dig(["example.com", "NAPTR"]), "", "no sip_proxy member known yet: NODATA");
  });
});
