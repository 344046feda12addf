/** The OpenAPI 3.1 document, generated from the route table and its zod schemas. */
import { z } from "zod/v4";
import type { Route } from "./routes.js";

const errorSchema = {
  type: "object",
  properties: {
    error: {
      type: "object",
      properties: {
        code: { type: "string", description: "stable code, e.g. THOR_PROVISIONING_CONFLICT" },
        status: { type: "integer" },
        message: { type: "string" },
        details: { type: "array", items: { type: "object", properties: { path: { type: "string" }, message: { type: "string" } } } },
      },
      required: ["code", "status", "message"],
    },
  },
  required: ["error"],
};

function jsonSchema(s: z.ZodType): Record<string, unknown> {
  const out = z.toJSONSchema(s, { io: "input", unrepresentable: "any" }) as Record<string, unknown>;
  delete out["$schema"];
  return out;
}

export function buildOpenApi(routes: readonly Route[], info: { version: string; servers?: string[] }): unknown {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const r of routes) {
    const params: unknown[] = [];
    for (const m of r.path.matchAll(/\{(\w+)\}/g)) params.push({ name: m[1], in: "path", required: true, schema: { type: "string" } });
    if (r.query) {
      const q = jsonSchema(r.query) as { properties?: Record<string, unknown> };
      for (const [name, schema] of Object.entries(q.properties ?? {})) params.push({ name, in: "query", required: false, schema });
    }
    const responses: Record<string, unknown> = {
      [String(r.status)]: { description: r.status === 204 ? "done" : "success", ...(r.status === 204 ? {} : { content: { "application/json": { schema: { type: "object" } } } }) },
    };
    const err = (d: string) => ({ description: d, content: { "application/json": { schema: { $ref: "#/components/schemas/Error" } } } });
    if (r.scope !== "none") {
      responses["401"] = err("missing or unknown token");
      if (r.scope === "write") responses["403"] = err("the token's scope is read-only");
    }
    if (r.body) {
      responses["400"] = err("the body is not JSON");
      responses["422"] = err("the body breaks the schema");
      responses["409"] = err("the entity exists already");
    }
    if (r.path.includes("{")) responses["404"] = err("no such entity");
    if (r.scope === "write") responses["503"] = err("the primary database is down: writes are refused");
    (paths[r.path] ??= {})[r.method.toLowerCase()] = {
      summary: r.summary,
      tags: [r.tag],
      ...(r.scope === "none" ? { security: [] } : {}),
      ...(params.length ? { parameters: params } : {}),
      ...(r.body ? { requestBody: { required: true, content: { "application/json": { schema: jsonSchema(r.body) } } } } : {}),
      responses,
    };
  }
  return {
    openapi: "3.1.0",
    info: { title: "sipthor provisioning API", version: info.version, description: "Domains, SIP accounts, aliases and DIDs, trusted peers, call features, audit trail, network status. Bearer tokens scoped read or write." },
    ...(info.servers ? { servers: info.servers.map((url) => ({ url })) } : {}),
    security: [{ bearer: [] }],
    components: { securitySchemes: { bearer: { type: "http", scheme: "bearer" } }, schemas: { Error: errorSchema } },
    paths,
  };
}
