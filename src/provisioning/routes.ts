/**
 * The route table of the API: method, path, scope, schemas and handler.
 * The same table serves requests and produces the OpenAPI document.
 */
import type { z } from "zod/v4";
import { NotFoundError, ValidationError } from "./errors.js";
import { DEFAULT_MAX_BODY, DEFAULT_MAX_IMPORT_BODY } from "./options.js";
import {
  accountCreateSchema,
  accountPatchSchema,
  accountQuerySchema,
  aliasCreateSchema,
  aliasQuerySchema,
  auditQuerySchema,
  domainCreateSchema,
  domainPatchSchema,
  domainQuerySchema,
  importSchema,
  pageQuerySchema,
  trustedPeerCreateSchema,
} from "./schemas.js";
import type { ProvisioningService } from "./service.js";
import type { NetworkStatusSource } from "./status.js";

export type Method = "GET" | "POST" | "PATCH" | "DELETE";

export interface RouteContext {
  params: Record<string, string>;
  query: unknown;
  body: unknown;
  actor: string;
}

export interface RouteResult {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
}

export interface Route {
  method: Method;
  path: string;
  /** `none`: no token needed. */
  scope: "none" | "read" | "write";
  summary: string;
  tag: string;
  body?: z.ZodType;
  query?: z.ZodType;
  maxBody?: number;
  /** Success status, for the document. */
  status: number;
  handler(ctx: RouteContext): Promise<RouteResult>;
}

export interface RouteDeps {
  service: ProvisioningService;
  status?: NetworkStatusSource;
  openapi(): unknown;
}

const ok = (body: unknown): RouteResult => ({ status: 200, body });
const created = (body: unknown, location: string): RouteResult => ({ status: 201, body, headers: { location } });
const noContent = (): RouteResult => ({ status: 204 });

export function buildRoutes(d: RouteDeps): Route[] {
  const s = d.service;
  type Q<S extends z.ZodType> = z.output<S>;
  const r: Route[] = [
    { method: "GET", path: "/openapi.json", scope: "none", tag: "meta", summary: "this OpenAPI document", status: 200, handler: async () => ok(d.openapi()) },
    { method: "GET", path: "/v1/health", scope: "none", tag: "meta", summary: "liveness and the state of the databases (no URI)", status: 200, handler: async () => ok({ ok: true, database: s.databaseHealth() }) },

    { method: "GET", path: "/v1/domains", scope: "read", tag: "domains", summary: "list domains", query: domainQuerySchema, status: 200, handler: async (c) => ok(await s.listDomains(c.query as Q<typeof domainQuerySchema>)) },
    { method: "POST", path: "/v1/domains", scope: "write", tag: "domains", summary: "create a domain", body: domainCreateSchema, status: 201, handler: async (c) => {
      const dom = await s.createDomain(c.actor, c.body as Q<typeof domainCreateSchema>);
      return created(dom, `/v1/domains/${encodeURIComponent(dom.name)}`);
    } },
    { method: "GET", path: "/v1/domains/{name}", scope: "read", tag: "domains", summary: "read a domain", status: 200, handler: async (c) => ok(await s.getDomain(c.params["name"]!)) },
    { method: "PATCH", path: "/v1/domains/{name}", scope: "write", tag: "domains", summary: "change a domain", body: domainPatchSchema, status: 200, handler: async (c) => ok(await s.updateDomain(c.actor, c.params["name"]!, c.body as Q<typeof domainPatchSchema>)) },
    { method: "DELETE", path: "/v1/domains/{name}", scope: "write", tag: "domains", summary: "delete a domain without accounts", status: 204, handler: async (c) => (await s.deleteDomain(c.actor, c.params["name"]!), noContent()) },

    { method: "GET", path: "/v1/accounts", scope: "read", tag: "accounts", summary: "list accounts (filters: domain, q, enabled, blocked, group)", query: accountQuerySchema, status: 200, handler: async (c) => ok(await s.listAccounts(c.query as Q<typeof accountQuerySchema>)) },
    { method: "POST", path: "/v1/accounts", scope: "write", tag: "accounts", summary: "create a SIP account", body: accountCreateSchema, status: 201, handler: async (c) => {
      const a = await s.createAccount(c.actor, c.body as Q<typeof accountCreateSchema>);
      return created(a, `/v1/accounts/${encodeURIComponent(`${a.username}@${a.domain}`)}`);
    } },
    { method: "GET", path: "/v1/accounts/{aor}", scope: "read", tag: "accounts", summary: "read an account (user@domain)", status: 200, handler: async (c) => ok(await s.getAccount(c.params["aor"]!)) },
    { method: "PATCH", path: "/v1/accounts/{aor}", scope: "write", tag: "accounts", summary: "change an account: password, state, features", body: accountPatchSchema, status: 200, handler: async (c) => ok(await s.updateAccount(c.actor, c.params["aor"]!, c.body as Q<typeof accountPatchSchema>)) },
    { method: "DELETE", path: "/v1/accounts/{aor}", scope: "write", tag: "accounts", summary: "delete an account and its aliases", status: 204, handler: async (c) => (await s.deleteAccount(c.actor, c.params["aor"]!), noContent()) },

    { method: "GET", path: "/v1/aliases", scope: "read", tag: "aliases", summary: "list aliases and DIDs (filters: domain, account, kind)", query: aliasQuerySchema, status: 200, handler: async (c) => ok(await s.listAliases(c.query as Q<typeof aliasQuerySchema>)) },
    { method: "POST", path: "/v1/aliases", scope: "write", tag: "aliases", summary: "map an alias or DID to an account", body: aliasCreateSchema, status: 201, handler: async (c) => {
      const a = await s.createAlias(c.actor, c.body as Q<typeof aliasCreateSchema>);
      return created(a, `/v1/aliases/${encodeURIComponent(a.alias)}`);
    } },
    { method: "GET", path: "/v1/aliases/{alias}", scope: "read", tag: "aliases", summary: "read an alias", status: 200, handler: async (c) => ok(await s.getAlias(c.params["alias"]!)) },
    { method: "DELETE", path: "/v1/aliases/{alias}", scope: "write", tag: "aliases", summary: "delete an alias", status: 204, handler: async (c) => (await s.deleteAlias(c.actor, c.params["alias"]!), noContent()) },

    { method: "GET", path: "/v1/trusted-peers", scope: "read", tag: "trusted peers", summary: "list trusted peers", query: pageQuerySchema, status: 200, handler: async (c) => ok(await s.listTrustedPeers(c.query as Q<typeof pageQuerySchema>)) },
    { method: "POST", path: "/v1/trusted-peers", scope: "write", tag: "trusted peers", summary: "trust an address or network", body: trustedPeerCreateSchema, status: 201, handler: async (c) => {
      const p = await s.createTrustedPeer(c.actor, c.body as Q<typeof trustedPeerCreateSchema>);
      return created(p, `/v1/trusted-peers/${p.id}`);
    } },
    { method: "DELETE", path: "/v1/trusted-peers/{id}", scope: "write", tag: "trusted peers", summary: "delete a trusted peer", status: 204, handler: async (c) => {
      const id = Number(c.params["id"]);
      if (!Number.isInteger(id) || id <= 0) throw new ValidationError(`"${c.params["id"]}" is not a trusted peer id`, [{ path: "id", message: "expected a positive integer" }]);
      await s.deleteTrustedPeer(c.actor, id);
      return noContent();
    } },

    { method: "POST", path: "/v1/import", scope: "write", tag: "bulk", summary: "bulk import domains, accounts and aliases in one transaction", body: importSchema, maxBody: DEFAULT_MAX_IMPORT_BODY, status: 200, handler: async (c) => ok(await s.importAll(c.actor, c.body as Q<typeof importSchema>)) },
    { method: "GET", path: "/v1/audit", scope: "read", tag: "audit", summary: "audit trail, newest first (filters: entity, key)", query: auditQuerySchema, status: 200, handler: async (c) => ok(await s.listAudit(c.query as Q<typeof auditQuerySchema>)) },

    { method: "GET", path: "/v1/network/status", scope: "read", tag: "network", summary: "live membership of the network (getStatus)", status: 200, handler: async () => {
      const m = d.status?.membership();
      if (m === undefined) throw new NotFoundError("no membership snapshot received yet");
      return ok(m);
    } },
    { method: "GET", path: "/v1/network/statistics", scope: "read", tag: "network", summary: "per-role statistics aggregated from Thor.Statistics", status: 200, handler: async () => {
      if (!d.status) throw new NotFoundError("this server is not connected to the network");
      return ok(d.status.statistics());
    } },
  ];
  for (const route of r) route.maxBody ??= DEFAULT_MAX_BODY;
  return r;
}
