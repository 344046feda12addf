import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { silentLogger, systemClock } from "../../src/base/index.js";
import { DatabaseCluster, insertAccount, insertDomain, NO_FEATURES } from "../../src/db/index.js";
import { LocalHub } from "../../src/events/index.js";
import { ControlLink, type RoleContext } from "../../src/node/index.js";
import { RoleMap, type Entity } from "../../src/overlay/index.js";
import { initCa, issueCertificate, TlsIdentity } from "../../src/pki/index.js";
import { ha1Of } from "../../src/provisioning/index.js";
import { XcapChangeReceiver, XcapServerRole } from "../../src/roles/index.js";
import type { XcapChange } from "../../src/xcap/index.js";
import { createTestDatabase, type TestDatabase } from "../support/databases.js";
import { waitFor } from "../support/wait-for.js";
import { digestAuthorization, rawRequest, xcap } from "../support/xcap-client.js";
import { BUDDIES, RULES } from "../xcap/fixtures.js";
import { testNet, testNetRe } from "../support/slot.js";

/**
 * The xcap_server role over real HTTP on testNet(150).x: digest against the
 * provisioned accounts, operator tokens, documents in SQLite and in
 * PostgreSQL, ETags, RFC 4825 error bodies, limits, and the xcap.changed
 * notice reaching the responsible sip_proxy node over the control link.
 */
const ip = (n: number) => `${testNet(150)}.${n}`;
const WRITE = "xcap-writer-token-0123";
const READ = "xcap-reader-token-0123";
const alice = { username: "alice", password: "alice-secret" };
const bob = { username: "bob", password: "bob-secret" };
const RL_TYPE = "application/resource-lists+xml";
const entity = (id: string, n: number, roles: string[]): Entity => ({ id, ip: ip(n), roles, version: "t", ports: {}, attrs: {}, startedAt: 1 });

describe("xcap_server role", () => {
  let caDir: string;
  const links: ControlLink[] = [];
  const received = new Map<string, XcapChange[]>();
  const members = [entity("xcap1", 1, ["xcap_server"]), entity("sip1", 2, ["sip_proxy"]), entity("sip2", 3, ["sip_proxy"]), entity("sip3", 4, ["sip_proxy"])];
  const map = RoleMap.fromMembers(members);
  const endpoints = new Map<string, { host: string; port: number }>();

  async function link(name: string, n: number): Promise<ControlLink> {
    const identity = await TlsIdentity.load({ ca: join(caDir, "ca.crt"), cert: join(caDir, "certs", `${name}.crt`), key: join(caDir, "certs", `${name}.key`), crl: join(caDir, "crl.pem") });
    const l = new ControlLink({ identity, logger: silentLogger, host: ip(n), port: 0, dialFrom: ip(n), resolve: (id) => endpoints.get(id) });
    endpoints.set(name, await l.start());
    links.push(l);
    return l;
  }

  before(async () => {
    caDir = mkdtempSync(join(tmpdir(), "thor-xcap-"));
    await initCa(caDir);
    // Members connect from an address of their certificate (the member link checks it).
    for (const [i, m] of members.entries()) await issueCertificate(caDir, m.id, { ou: "node", ip: [ip(i + 1)] });
    await link("xcap1", 1);
    for (const [i, name] of ["sip1", "sip2", "sip3"].entries()) {
      const l = await link(name, i + 2);
      received.set(name, []);
      new XcapChangeReceiver(l, silentLogger, (c) => received.get(name)!.push(c));
    }
  });

  after(async () => {
    for (const l of links) await l.stop();
    rmSync(caDir, { recursive: true, force: true });
  });

  for (const kind of ["sqlite", "postgres"] as const) {
    describe(`on ${kind}`, () => {
      let tdb: TestDatabase;
      let role: XcapServerRole;
      let root: string;
      const doc = (user: string, auid = "resource-lists", name = "index") => `${root}/${auid}/users/sip:${user}@example.com/${name}`;

      before(async () => {
        tdb = await createTestDatabase(kind, "thor_xcap");
        const cluster = new DatabaseCluster({ logger: silentLogger, migrate: true });
        cluster.setCandidates([{ uri: tdb.uri, priority: 0 }]);
        await cluster.write(async (db) => {
          await insertDomain(db, { name: "example.com", enabled: true, description: null });
          for (const [u, blocked] of [["alice", false], ["bob", false], ["eve", true]] as const)
            await insertAccount(db, { username: u, domain: "example.com", ha1: ha1Of(u, "example.com", `${u}-secret`), displayName: null, enabled: true, blocked, maxCalls: null, quota: null, groups: [], properties: {}, features: NO_FEATURES });
        });
        await cluster.close();
        const hub = new LocalHub();
        const ctx: RoleContext = {
          bus: hub.attach({ OU: "node", CN: "xcap1" }, ["xcap_server"]),
          logger: silentLogger,
          clock: systemClock,
          self: () => members[0]!,
          roleMap: () => map,
          snapshot: () => undefined,
          database: () => undefined,
          databases: { all: () => [], onChange: () => () => undefined },
          control: links[0],
          identity: undefined,
        };
        role = new XcapServerRole({ port: 0, domains: ["example.com"], dburis: [tdb.uri], tokens: [{ name: "ops", scope: "write", secret: WRITE }, { name: "viewer", scope: "read", secret: READ }], limits: { maxDocumentBytes: 8192, maxDocumentsPerUser: 3 } });
        await role.start(ctx);
        root = role.url!;
        assert.match(root, new RegExp(String.raw`^http:\/\/${testNetRe(150)}\.1:\d+\/xcap-root$`));
        assert.ok((role.advertise().ports?.["xcap"] ?? 0) > 0, "the role advertises its port as `xcap` (thor dns publishes _xcap._tcp from it)");
      });

      after(async () => {
        await role?.stop();
        await tdb?.drop();
      });

      it("serves xcap-caps to anyone, listing the application usages", async () => {
        const r = await xcap({ method: "GET", url: `${root}/xcap-caps/global/index` });
        assert.equal(r.status, 200);
        assert.equal(r.headers["content-type"], "application/xcap-caps+xml");
        for (const auid of ["pres-rules", "resource-lists", "rls-services", "pidf-manipulation"]) assert.match(r.body, new RegExp(`<auid>${auid}</auid>`));
        assert.equal((await xcap({ method: "PUT", url: `${root}/xcap-caps/global/index`, body: "<x/>", contentType: "application/xcap-caps+xml" })).status, 405);
      });

      it("challenges with digest in the documents' domain, SHA-256 and MD5", async () => {
        const r = await xcap({ method: "GET", url: doc("alice") });
        assert.equal(r.status, 401);
        assert.equal(r.challenges.length, 2);
        assert.match(r.challenges[0]!, /^Digest realm="example.com", nonce="[^"]+", algorithm=SHA-256, qop="auth"$/);
        assert.match(r.challenges[1]!, /algorithm=MD5/);
        assert.equal((await xcap({ method: "GET", url: `${root}/resource-lists/users/sip:alice@other.org/index`, user: alice })).status, 404, "a domain not served is 404 before any challenge");
      });

      it("stores a document with its ETag, then answers conditional requests (RFC 4825 7.11)", async () => {
        const put = await xcap({ method: "PUT", url: doc("alice"), body: BUDDIES, contentType: RL_TYPE, user: { ...alice, algorithm: "SHA-256" } });
        assert.equal(put.status, 201, put.body);
        const etag = put.headers.etag!;
        assert.match(etag, /^"[A-Za-z0-9_-]+"$/);
        const get = await xcap({ method: "GET", url: doc("alice"), user: alice });
        assert.equal(get.status, 200);
        assert.equal(get.body, BUDDIES);
        assert.equal(get.headers["content-type"], RL_TYPE);
        assert.equal(get.headers.etag, etag);
        assert.equal((await xcap({ method: "GET", url: doc("alice"), user: alice, headers: { "if-none-match": etag } })).status, 304);
        assert.equal((await xcap({ method: "PUT", url: doc("alice"), body: BUDDIES, contentType: RL_TYPE, user: alice, headers: { "if-match": '"stale"' } })).status, 412);
        assert.equal((await xcap({ method: "PUT", url: doc("alice"), body: BUDDIES, contentType: RL_TYPE, user: alice, headers: { "if-none-match": "*" } })).status, 412);
        const again = await xcap({ method: "PUT", url: doc("alice"), body: BUDDIES, contentType: RL_TYPE, user: alice, headers: { "if-match": etag } });
        assert.equal(again.status, 200);
        assert.notEqual(again.headers.etag, etag, "every write makes a new entity tag");
      });

      it("reads and writes elements and attributes by node selector, with 409 bodies of RFC 4825 11", async () => {
        const friends = `${doc("alice")}/~~/resource-lists/list%5b@name=%22friends%22%5d`;
        const add = await xcap({ method: "PUT", url: `${friends}/entry%5b@uri=%22sip:dave@example.com%22%5d`, body: '<entry uri="sip:dave@example.com"><display-name>Dave</display-name></entry>', contentType: "application/xcap-el+xml", user: alice });
        assert.equal(add.status, 201, add.body);
        const el = await xcap({ method: "GET", url: `${friends}/entry%5b3%5d/display-name`, user: alice });
        assert.equal(el.status, 200);
        assert.equal(el.headers["content-type"], "application/xcap-el+xml");
        assert.match(el.body, /^<display-name[^>]*>Dave<\/display-name>$/);
        const att = await xcap({ method: "GET", url: `${friends}/entry%5b3%5d/@uri`, user: alice });
        assert.deepEqual([att.status, att.headers["content-type"], att.body], [200, "application/xcap-att+xml", "sip:dave@example.com"]);
        const dup = await xcap({ method: "PUT", url: `${friends}/entry%5b4%5d`, body: '<entry uri="sip:bob@example.com"/>', contentType: "application/xcap-el+xml", user: alice });
        assert.equal(dup.status, 409);
        assert.equal(dup.headers["content-type"], "application/xcap-error+xml");
        assert.match(dup.body, /<xcap-error xmlns="urn:ietf:params:xml:ns:xcap-error"><uniqueness-failure phrase="[^"]*"><exists field="resource-lists\/list\/entry\/@uri"><alt-value>sip:bob@example.com-2<\/alt-value><\/exists><\/uniqueness-failure><\/xcap-error>/);
        const orphan = await xcap({ method: "PUT", url: `${doc("alice")}/~~/resource-lists/list%5b@name=%22nope%22%5d/entry`, body: '<entry uri="sip:x@example.com"/>', contentType: "application/xcap-el+xml", user: alice });
        assert.equal(orphan.status, 409);
        assert.match(orphan.body, /<no-parent[^>]*><ancestor>\/xcap-root\/resource-lists\/users\/sip:alice@example.com\/index\/~~\/resource-lists<\/ancestor><\/no-parent>/);
        const del = await xcap({ method: "DELETE", url: `${friends}/entry%5b@uri=%22sip:dave@example.com%22%5d`, user: alice });
        assert.equal(del.status, 200);
        assert.equal((await xcap({ method: "GET", url: `${friends}/entry%5b3%5d`, user: alice })).status, 404);
      });

      it("refuses bad bodies with the matching answer", async () => {
        const put = (body: string | Buffer, contentType = RL_TYPE) => xcap({ method: "PUT", url: doc("alice", "resource-lists", "other"), body, contentType, user: alice });
        const bad = await put("<resource-lists");
        assert.equal(bad.status, 409);
        assert.match(bad.body, /<not-well-formed/);
        assert.match((await put(Buffer.from([0x3c, 0x61, 0xff, 0xfe, 0x3e]))).body, /<not-utf-8/);
        assert.equal((await put(BUDDIES, "application/xml")).status, 415);
        assert.match((await put(RULES)).body, /<schema-validation-error/);
        assert.equal((await put(`<resource-lists xmlns="urn:ietf:params:xml:ns:resource-lists"><!-- ${"x".repeat(9000)} --></resource-lists>`)).status, 413);
        assert.match((await put('<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "aaaa">]><resource-lists xmlns="urn:ietf:params:xml:ns:resource-lists"/>')).body, /<not-well-formed phrase="a DOCTYPE is not allowed"/);
      });

      it("curl --digest (a plain HTTP client) writes an element and reads the document", async () => {
        const curl = (args: string[]) =>
          new Promise<string>((resolve, reject) => execFile("curl", ["-s", "--max-time", "10", "--digest", "-u", "alice:alice-secret", ...args], { timeout: 15_000 }, (err, out) => (err ? reject(err) : resolve(out))));
        const url = `${doc("alice")}/~~/resource-lists/list%5b@name=%22work%22%5d/entry%5b@uri=%22sip:curl@example.com%22%5d`;
        assert.equal(await curl(["-X", "PUT", "-H", "Content-Type: application/xcap-el+xml", "--data", '<entry uri="sip:curl@example.com"/>', "-o", "/dev/null", "-w", "%{http_code}", url]), "201");
        assert.match(await curl([doc("alice")]), /<list name="work"><entry uri="sip:curl@example.com"\/><\/list>/);
      });

      it("lets a user reach only their own documents; operators by token, read tokens only reading", async () => {
        assert.equal((await xcap({ method: "GET", url: doc("alice"), user: bob })).status, 403);
        assert.equal((await xcap({ method: "PUT", url: doc("alice"), body: BUDDIES, contentType: RL_TYPE, user: bob })).status, 403);
        assert.equal((await xcap({ method: "GET", url: doc("alice"), user: { username: "alice", password: "wrong" } })).status, 401);
        assert.equal((await xcap({ method: "GET", url: doc("eve"), user: { username: "eve", password: "eve-secret" } })).status, 403, "a blocked account gets nothing");
        assert.equal((await xcap({ method: "GET", url: doc("alice"), authorization: `Bearer ${READ}` })).status, 200);
        assert.equal((await xcap({ method: "PUT", url: doc("bob", "pres-rules"), body: RULES, contentType: "application/auth-policy+xml", authorization: `Bearer ${READ}` })).status, 403);
        assert.equal((await xcap({ method: "PUT", url: doc("bob", "pres-rules"), body: RULES, contentType: "application/auth-policy+xml", authorization: `Bearer ${WRITE}` })).status, 201);
        assert.equal((await xcap({ method: "GET", url: doc("alice"), authorization: "Bearer not-a-token-at-all" })).status, 401);
      });

      it("refuses a digest for another URI and a replayed nonce count", async () => {
        const url = doc("alice");
        const target = new URL(url).pathname;
        const challenge = (await rawRequest({ method: "GET", url })).challenges.find((c) => /MD5/.test(c))!;
        assert.equal((await rawRequest({ method: "GET", url }, digestAuthorization(challenge, "GET", target, alice, 1, `${target}x`))).status, 401);
        const good = digestAuthorization(challenge, "GET", target, alice, 7);
        assert.equal((await rawRequest({ method: "GET", url }, good)).status, 200);
        assert.equal((await rawRequest({ method: "GET", url }, good)).status, 401, "the same nonce count again is a replay");
      });

      it("bounds the documents per user (409 constraint-failure)", async () => {
        for (const n of ["a", "b"]) assert.equal((await xcap({ method: "PUT", url: doc("bob", "resource-lists", n), body: BUDDIES, contentType: RL_TYPE, user: bob })).status, 201);
        const over = await xcap({ method: "PUT", url: doc("bob", "resource-lists", "c"), body: BUDDIES, contentType: RL_TYPE, user: bob });
        assert.equal(over.status, 409);
        assert.match(over.body, /<constraint-failure phrase="a user holds at most 3 documents"\/>/);
        assert.equal((await xcap({ method: "DELETE", url: doc("bob", "resource-lists", "a"), user: bob })).status, 200);
        assert.equal((await xcap({ method: "GET", url: doc("bob", "resource-lists", "a"), user: bob })).status, 404);
      });

      it("tells the responsible sip_proxy node of each change over the control link (xcap.changed)", async () => {
        for (const l of received.values()) l.length = 0;
        const notified = role.statistics()["notified"]!;
        const responsible = map.successors("sip_proxy", "carol@example.com", 1)[0]!.id;
        const r = await xcap({ method: "PUT", url: doc("carol", "pres-rules"), body: RULES, contentType: "application/auth-policy+xml", authorization: `Bearer ${WRITE}` });
        assert.equal(r.status, 201);
        await waitFor(() => received.get(responsible)!.length === 1, { timeoutMs: 5000 });
        const { root, ...told } = received.get(responsible)![0]!;
        assert.deepEqual(told, { aor: "carol@example.com", xui: "sip:carol@example.com", auid: "pres-rules", document: "index", etag: r.headers.etag!.slice(1, -1), previousEtag: null });
        assert.equal(root, role.url, "the XCAP root of the server that took the write (xcap-diff)");
        for (const [name, l] of received) if (name !== responsible) assert.equal(l.length, 0, `${name} is not responsible for carol`);
        await xcap({ method: "DELETE", url: doc("carol", "pres-rules"), authorization: `Bearer ${WRITE}` });
        await waitFor(() => received.get(responsible)!.length === 2, { timeoutMs: 5000 });
        assert.equal(received.get(responsible)![1]!.etag, null, "a deletion is told with a null tag");
        assert.equal(received.get(responsible)![1]!.previousEtag, r.headers.etag!.slice(1, -1), "and the tag it had");
        await waitFor(() => role.statistics()["notified"] === notified + 2, { timeoutMs: 5000 });
      });
    });
  }
});
