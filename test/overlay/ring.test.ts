import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { HashRing, murmur3, murmur3Bytes, normalizeKey, ringSpread, RoleMap, type Entity } from "../../src/overlay/index.js";

const ips = (n: number, base = "10.0") => Array.from({ length: n }, (_, i) => `${base}.${i >> 8}.${(i & 255) + 1}`);
const keys = (n: number) => Array.from({ length: n }, (_, i) => `user${i}@example.com`);

describe("murmur3 x86_32", () => {
  it("matches the reference vectors", () => {
    const vectors: Array<[string, number, number]> = [
      ["", 0, 0],
      ["", 1, 0x514e28b7],
      ["a", 0, 0x3c2569b2],
      ["abc", 0, 0xb3dd93fa],
      ["hello", 0, 0x248bfa47],
      ["Hello, world!", 0, 0xc0363e43],
      ["The quick brown fox jumps over the lazy dog", 0, 0x2e4ff723],
    ];
    for (const [text, seed, want] of vectors) assert.equal(murmur3(text, seed), want, JSON.stringify(text));
  });

  it("hashes the UTF-8 bytes: the string and byte paths agree", () => {
    for (const s of ["héllo ☎", "ünïcode@exämple.com", "日本@example.jp", "a😀b"]) assert.equal(murmur3(s), murmur3Bytes(Buffer.from(s, "utf8")));
  });
});

describe("ring keys", () => {
  it("normalizes SIP URIs and name-addrs to user@domain", () => {
    const same = ["alice@example.com", "sip:alice@example.com", "sips:alice@EXAMPLE.com:5061", "sip:alice@example.com;transport=tcp", '"Alice" <sip:alice@Example.Com>;tag=1', "sip:alice@example.com?subject=x"];
    for (const s of same) assert.deepEqual(normalizeKey(s), { ok: true, key: "alice@example.com" }, s);
    assert.deepEqual(normalizeKey("Alice@example.com"), { ok: true, key: "Alice@example.com" }, "the user part keeps its case");
    assert.deepEqual(normalizeKey("sip:bob@[2001:db8::1]:5060"), { ok: true, key: "bob@[2001:db8::1]" });
  });

  it("refuses what is not user@domain", () => {
    for (const s of ["alice", "@example.com", "alice@", "sip:alice@ex ample.com", "<sip:alice@example.com", `${"a".repeat(300)}@x.com`]) assert.equal(normalizeKey(s).ok, false, s);
  });
});

describe("consistent-hash ring", () => {
  it("is independent of the order nodes are given in", () => {
    const a = new HashRing(ips(10));
    const b = new HashRing(ips(10).reverse());
    for (const k of keys(2000)) assert.equal(a.lookup(k), b.lookup(k));
  });

  it("gives the same owners in separate processes", () => {
    const mod = fileURLToPath(new URL("../../src/overlay/index.js", import.meta.url));
    const script = `import(${JSON.stringify(mod)}).then((o) => { const r = new o.HashRing(${JSON.stringify(ips(7))}); process.stdout.write(JSON.stringify(Array.from({ length: 1000 }, (_, i) => r.lookup("user" + i + "@example.com")))); })`;
    const one = execFileSync(process.execPath, ["-e", script], { encoding: "utf8" });
    const two = execFileSync(process.execPath, ["-e", script], { encoding: "utf8" });
    assert.equal(one, two);
    const here = new HashRing(ips(7));
    assert.deepEqual(JSON.parse(one), keys(1000).map((k) => here.lookup(k)));
  });

  it("moves about 1/N of the keys when a node joins, all of them to the new node", () => {
    const before = new HashRing(ips(10));
    const after = new HashRing([...ips(10), "10.9.9.9"]);
    const ks = keys(20_000);
    let moved = 0;
    for (const k of ks) {
      const a = before.lookup(k);
      const b = after.lookup(k);
      if (a !== b) {
        moved++;
        assert.equal(b, "10.9.9.9");
      }
    }
    const fraction = moved / ks.length;
    assert.ok(fraction > 0.5 / 11 && fraction < 1.6 / 11, `moved ${fraction}`);
  });

  it("moves only the leaving node's keys when a node leaves", () => {
    const before = new HashRing(ips(10));
    const gone = ips(10)[3]!;
    const after = new HashRing(ips(10).filter((ip) => ip !== gone));
    for (const k of keys(20_000)) if (before.lookup(k) !== gone) assert.equal(after.lookup(k), before.lookup(k));
  });

  it("keeps the load spread within the documented bounds (docs/ring.md)", () => {
    const bounds: Array<[number, number]> = [[3, 1.05], [10, 1.08], [100, 1.12]];
    for (const [n, maxOverMean] of bounds) {
      const s = ringSpread(n);
      assert.ok(s.maxOverMean < maxOverMean, `${n} nodes: max/mean ${s.maxOverMean}`);
      assert.ok(s.minOverMean > 2 - maxOverMean - 0.05, `${n} nodes: min/mean ${s.minOverMean}`);
    }
    const shares = [...new HashRing(ips(3)).shares().values()];
    assert.ok(Math.abs(shares.reduce((a, b) => a + b, 0) - 1) < 1e-9);
    const counts = new Map<string, number>();
    const ring = new HashRing(ips(3));
    for (const k of keys(30_000)) counts.set(ring.lookup(k)!, (counts.get(ring.lookup(k)!) ?? 0) + 1);
    for (const c of counts.values()) assert.ok(c > 9000 && c < 11_000, `keys per node ${c}`);
  });

  it("lists distinct successors for replication", () => {
    const ring = new HashRing(ips(5));
    const s = ring.successors("alice@example.com", 3);
    assert.equal(s.length, 3);
    assert.equal(new Set(s).size, 3);
    assert.equal(s[0], ring.lookup("alice@example.com"));
    assert.equal(ring.successors("alice@example.com", 10).length, 5);
    assert.equal(new HashRing([]).lookup("alice@example.com"), undefined);
  });
});

describe("role map", () => {
  const entity = (id: string, ip: string, roles: string[], attrs: Entity["attrs"] = {}): Entity => ({ id, ip, roles, version: "1", ports: {}, attrs, startedAt: 1 });
  const members = [entity("a", "10.0.0.1", ["sip_proxy", "media_relay"]), entity("b", "10.0.0.2", ["sip_proxy"]), entity("c", "10.0.0.3", ["sip_proxy"], { draining: true })];

  it("keeps one ring per role, placing members by address", () => {
    const map = RoleMap.fromMembers(members);
    assert.deepEqual(map.roles(), ["media_relay", "sip_proxy"]);
    assert.equal(map.lookup("media_relay", "x@y.z")?.id, "a");
    assert.equal(map.lookup("voicemail_server", "x@y.z"), undefined);
    assert.equal(map.lookup("sip_proxy", "sip:x@Y.z")?.ip, new HashRing(["10.0.0.1", "10.0.0.2"]).lookup("x@y.z"));
  });

  it("leaves draining members out of the rings but online", () => {
    const map = RoleMap.fromMembers(members);
    assert.equal(map.ring("sip_proxy")?.size, 2);
    assert.equal(map.isOnline("10.0.0.3", "sip_proxy"), true);
    assert.equal(map.isOnline("10.0.0.3", "media_relay"), false);
    assert.equal(map.isOnline("10.0.0.9", "sip_proxy"), false);
    assert.equal(RoleMap.fromMembers(members, { excludeDraining: false }).ring("sip_proxy")?.size, 3);
  });
});
