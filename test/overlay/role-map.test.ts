import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { HashRing, RoleMap, type Entity } from "../../src/overlay/index.js";

const entity = (id: string, ip: string, roles: string[], attrs: Entity["attrs"] = {}): Entity => ({ id, ip, roles, version: "1", ports: {}, attrs, startedAt: 1 });

describe("role map", () => {
  const members = [
    entity("a", "10.0.0.1", ["sip_proxy", "media_relay"]),
    entity("b", "10.0.0.2", ["sip_proxy"]),
    entity("c", "10.0.0.3", ["sip_proxy"], { draining: true }),
    entity("d", "10.0.0.4", []),
  ];

  it("keeps one ring per role, placing members by IP address", () => {
    const map = RoleMap.fromMembers(members);
    assert.deepEqual(map.roles(), ["media_relay", "sip_proxy"]);
    assert.deepEqual(map.ring("sip_proxy")?.nodes, ["10.0.0.1", "10.0.0.2"]);
    assert.deepEqual(map.ring("media_relay")?.nodes, ["10.0.0.1"]);
    assert.equal(map.ring("voicemail_server"), undefined);
    assert.equal(map.members, members);
  });

  it("looks up the responsible member, normalizing the key", () => {
    const map = RoleMap.fromMembers(members);
    const ring = new HashRing(["10.0.0.1", "10.0.0.2"]);
    for (let i = 0; i < 200; i++) {
      const key = `user${i}@example.com`;
      assert.equal(map.lookup("sip_proxy", key)?.ip, ring.lookup(key));
      assert.equal(map.lookup("sip_proxy", `sip:user${i}@EXAMPLE.com;transport=tcp`), map.lookup("sip_proxy", key));
    }
    assert.equal(map.lookup("media_relay", "x@y.z")?.id, "a");
    assert.equal(map.lookup("voicemail_server", "x@y.z"), undefined);
  });

  it("is the same map whatever order the members come in", () => {
    const many = Array.from({ length: 30 }, (_, i) => entity(`n${i}`, `10.1.0.${i + 1}`, i % 3 === 0 ? ["sip_proxy", "xcap_server"] : ["sip_proxy"]));
    const a = RoleMap.fromMembers(many);
    const b = RoleMap.fromMembers([...many].reverse());
    for (let i = 0; i < 1000; i++) {
      for (const role of ["sip_proxy", "xcap_server"]) assert.equal(a.lookup(role, `u${i}@example.com`)?.ip, b.lookup(role, `u${i}@example.com`)?.ip);
    }
  });

  it("leaves draining members out of the rings but keeps them online", () => {
    const map = RoleMap.fromMembers(members);
    assert.equal(map.ring("sip_proxy")?.size, 2);
    for (let i = 0; i < 300; i++) assert.notEqual(map.lookup("sip_proxy", `u${i}@example.com`)?.ip, "10.0.0.3");
    assert.equal(map.isOnline("10.0.0.3", "sip_proxy"), true);
    const all = RoleMap.fromMembers(members, { excludeDraining: false });
    assert.equal(all.ring("sip_proxy")?.size, 3);
  });

  it("only a draining attribute that is exactly true drains", () => {
    const map = RoleMap.fromMembers([entity("a", "10.0.0.1", ["sip_proxy"], { draining: "true" }), entity("b", "10.0.0.2", ["sip_proxy"], { draining: false })]);
    assert.equal(map.ring("sip_proxy")?.size, 2);
  });

  it("answers is_online by address and role", () => {
    const map = RoleMap.fromMembers(members);
    assert.equal(map.isOnline("10.0.0.1", "media_relay"), true);
    assert.equal(map.isOnline("10.0.0.2", "media_relay"), false);
    assert.equal(map.isOnline("10.0.0.4", "sip_proxy"), false);
    assert.equal(map.isOnline("10.0.0.9", "sip_proxy"), false);
  });

  it("exposes shares and successors per role", () => {
    const map = RoleMap.fromMembers(members, { multiply: 100 });
    const shares = map.shares("sip_proxy");
    assert.deepEqual([...shares.keys()], ["10.0.0.1", "10.0.0.2"]);
    assert.ok(Math.abs([...shares.values()].reduce((a, b) => a + b, 0) - 1) < 1e-9);
    assert.equal(map.shares("voicemail_server").size, 0);
    assert.equal(map.ring("sip_proxy")?.multiply, 100);
    assert.deepEqual(
      map.successors("sip_proxy", "alice@example.com", 5).map((m) => m.id),
      map.ring("sip_proxy")!.successors("alice@example.com", 5).map((ip) => map.memberByIp(ip)!.id),
    );
  });

  it("an empty membership has no roles and answers nothing", () => {
    const map = RoleMap.fromMembers([]);
    assert.deepEqual(map.roles(), []);
    assert.equal(map.lookup("sip_proxy", "a@b.c"), undefined);
    assert.equal(map.isOnline("10.0.0.1", "sip_proxy"), false);
  });
});
