/**
 * A typed client of the provisioning API (used by `thor provision`, the
 * tests and the benchmark). Keeps connections alive; an error answer
 * becomes a {@link ProvisioningApiError} with the server's code and status.
 */
import http from "node:http";
import https from "node:https";
import type { AliasRecord, AuditRecord, DomainRecord, Page, TrustedPeerRecord } from "../db/index.js";
import type { AccountView } from "./service.js";
import { ProvisioningApiError } from "./errors.js";
import type { AccountCreate, AccountPatchInput, AliasCreate, DomainCreate, DomainPatchInput, ImportInput, TrustedPeerCreate } from "./schemas.js";

export interface ProvisioningClientOptions {
  /** e.g. `https://127.0.0.1:9280` */
  url: string;
  token?: string;
  /** CA certificate (PEM) to verify an HTTPS server with. */
  ca?: string | Buffer;
  /** @default 10000 */
  timeoutMs?: number;
}

export interface RawAnswer {
  status: number;
  headers: http.IncomingHttpHeaders;
  text: string;
  json: unknown;
}

type Query = Record<string, string | number | boolean | undefined>;

export class ProvisioningClient {
  private readonly base: URL;
  private readonly agent: http.Agent;

  constructor(private readonly opts: ProvisioningClientOptions) {
    this.base = new URL(opts.url);
    this.agent = this.base.protocol === "https:" ? new https.Agent({ keepAlive: true, ...(opts.ca ? { ca: opts.ca } : {}) }) : new http.Agent({ keepAlive: true });
  }

  close(): void {
    this.agent.destroy();
  }

  /** One request, answer as it came (no error mapping): for tests of the error answers. */
  raw(method: string, path: string, body?: string | Buffer, headers: Record<string, string> = {}): Promise<RawAnswer> {
    const url = new URL(path, this.base);
    const mod = url.protocol === "https:" ? https : http;
    const h: Record<string, string> = { ...headers };
    if (body !== undefined && h["content-length"] === undefined) h["content-length"] = String(Buffer.byteLength(body));
    return new Promise((resolve, reject) => {
      const req = mod.request(url, { method, headers: h, agent: this.agent, timeout: this.opts.timeoutMs ?? 10_000 }, (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => {
          const text = Buffer.concat(chunks).toString("utf8");
          let json: unknown;
          try {
            json = text ? JSON.parse(text) : undefined;
          } catch {
            json = undefined;
          }
          resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json });
        });
        res.on("error", reject);
      });
      req.on("timeout", () => req.destroy(new Error(`no answer from ${url.origin} within ${this.opts.timeoutMs ?? 10_000} ms`)));
      req.on("error", reject);
      req.end(body);
    });
  }

  async request<T>(method: string, path: string, body?: unknown, query?: Query): Promise<T> {
    let p = path;
    if (query) {
      const qs = new URLSearchParams();
      for (const [k, v] of Object.entries(query)) if (v !== undefined) qs.set(k, String(v));
      const s = qs.toString();
      if (s) p += `?${s}`;
    }
    const headers: Record<string, string> = {};
    if (this.opts.token) headers["authorization"] = `Bearer ${this.opts.token}`;
    let text: string | undefined;
    if (body !== undefined) {
      headers["content-type"] = "application/json";
      text = JSON.stringify(body);
    }
    const a = await this.raw(method, p, text, headers);
    if (a.status >= 400) {
      const e = (a.json as { error?: { code?: string; message?: string; details?: Array<{ path: string; message: string }> } } | undefined)?.error;
      throw new ProvisioningApiError(e?.code ?? `HTTP_${a.status}`, a.status, e?.message ?? (a.text || `HTTP ${a.status}`), e?.details);
    }
    return a.json as T;
  }

  // domains
  createDomain(d: DomainCreate): Promise<DomainRecord> {
    return this.request("POST", "/v1/domains", d);
  }
  getDomain(name: string): Promise<DomainRecord> {
    return this.request("GET", `/v1/domains/${encodeURIComponent(name)}`);
  }
  listDomains(q: Query = {}): Promise<Page<DomainRecord>> {
    return this.request("GET", "/v1/domains", undefined, q);
  }
  updateDomain(name: string, p: DomainPatchInput): Promise<DomainRecord> {
    return this.request("PATCH", `/v1/domains/${encodeURIComponent(name)}`, p);
  }
  deleteDomain(name: string): Promise<void> {
    return this.request("DELETE", `/v1/domains/${encodeURIComponent(name)}`);
  }
  // accounts
  createAccount(a: AccountCreate): Promise<AccountView> {
    return this.request("POST", "/v1/accounts", a);
  }
  getAccount(aor: string): Promise<AccountView> {
    return this.request("GET", `/v1/accounts/${encodeURIComponent(aor)}`);
  }
  listAccounts(q: Query = {}): Promise<Page<AccountView>> {
    return this.request("GET", "/v1/accounts", undefined, q);
  }
  updateAccount(aor: string, p: AccountPatchInput): Promise<AccountView> {
    return this.request("PATCH", `/v1/accounts/${encodeURIComponent(aor)}`, p);
  }
  deleteAccount(aor: string): Promise<void> {
    return this.request("DELETE", `/v1/accounts/${encodeURIComponent(aor)}`);
  }
  // aliases
  createAlias(a: AliasCreate): Promise<AliasRecord> {
    return this.request("POST", "/v1/aliases", a);
  }
  getAlias(alias: string): Promise<AliasRecord> {
    return this.request("GET", `/v1/aliases/${encodeURIComponent(alias)}`);
  }
  listAliases(q: Query = {}): Promise<Page<AliasRecord>> {
    return this.request("GET", "/v1/aliases", undefined, q);
  }
  deleteAlias(alias: string): Promise<void> {
    return this.request("DELETE", `/v1/aliases/${encodeURIComponent(alias)}`);
  }
  // trusted peers, bulk, audit, network
  createTrustedPeer(p: TrustedPeerCreate): Promise<TrustedPeerRecord> {
    return this.request("POST", "/v1/trusted-peers", p);
  }
  listTrustedPeers(q: Query = {}): Promise<Page<TrustedPeerRecord>> {
    return this.request("GET", "/v1/trusted-peers", undefined, q);
  }
  deleteTrustedPeer(id: number): Promise<void> {
    return this.request("DELETE", `/v1/trusted-peers/${id}`);
  }
  importAll(body: ImportInput): Promise<{ domains: number; accounts: number; aliases: number }> {
    return this.request("POST", "/v1/import", body);
  }
  audit(q: Query = {}): Promise<Page<AuditRecord>> {
    return this.request("GET", "/v1/audit", undefined, q);
  }
  networkStatus(): Promise<unknown> {
    return this.request("GET", "/v1/network/status");
  }
  networkStatistics(): Promise<unknown> {
    return this.request("GET", "/v1/network/statistics");
  }
  health(): Promise<{ ok: boolean; database: unknown }> {
    return this.request("GET", "/v1/health");
  }
}
