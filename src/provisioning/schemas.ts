/**
 * The API's request shapes as zod schemas (zod v4, for its JSON Schema
 * export): the same objects validate requests and produce the OpenAPI
 * document. Every object is strict, so an unknown field is a 422 naming it.
 */
import { isIP } from "node:net";
import { z } from "zod/v4";

/** RFC 3261 user part, restricted to what is safe everywhere (1-64). */
export const SIP_USER = /^[A-Za-z0-9._~+-]{1,64}$/;
export const DOMAIN = /^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/;
export const E164 = /^\+[1-9][0-9]{6,14}$/;
const TARGET = /^(sips?:|tel:)[^\s<>"]{1,500}$/;
const PATTERN = /^[A-Za-z0-9+*._@:~-]{1,128}$/;

export const usernameSchema = z
  .string()
  .regex(SIP_USER, "a SIP username is 1-64 characters: letters, digits and . _ ~ + - (RFC 3261 user part)")
  .describe("SIP user part");
export const domainNameSchema = z
  .string()
  .transform((s) => s.toLowerCase())
  .pipe(z.string().regex(DOMAIN, "a domain is a DNS name, e.g. example.com"))
  .describe("SIP domain (DNS name, stored lowercase)");
const passwordSchema = z
  .string()
  .min(6, "a password has at least 6 characters")
  .max(128, "a password has at most 128 characters")
  .regex(/^[\x20-\x7e]+$/, "a password is printable ASCII")
  .describe("stored only as HA1 (MD5 and SHA-256), never in clear text");
const targetSchema = z.string().regex(TARGET, "a forwarding target is a sip:, sips: or tel: URI").nullable();
const patternSchema = z.string().regex(PATTERN, "a blocking pattern is a user, number or user@domain, * matches the rest");
const propertyValue = z.union([z.string().max(1024), z.number(), z.boolean()]);

export const featuresSchema = z
  .object({
    forwardUnconditional: targetSchema.optional(),
    forwardBusy: targetSchema.optional(),
    forwardNoAnswer: targetSchema.optional(),
    forwardNoAnswerTimeout: z.number().int().min(5).max(300).nullable().optional().describe("seconds of ringing before forwardNoAnswer"),
    forwardUnavailable: targetSchema.optional(),
    dnd: z.boolean().optional().describe("do not disturb"),
    blockIncoming: z.array(patternSchema).max(200).optional(),
    blockOutgoing: z.array(patternSchema).max(200).optional(),
  })
  .strict()
  .describe("call features; omitted fields keep their value");

const accountFields = {
  displayName: z.string().min(1).max(256).nullable().optional(),
  enabled: z.boolean().optional(),
  blocked: z.boolean().optional().describe("blocked accounts may register but their calls are refused with 403"),
  maxCalls: z.number().int().min(0).max(100000).nullable().optional(),
  quota: z.number().int().min(0).max(2 ** 31 - 1).nullable().optional().describe("monthly credit in cents"),
  groups: z.array(z.string().regex(/^[a-z0-9_-]{1,32}$/, "a group name is 1-32 of a-z 0-9 _ -")).max(32).optional(),
  properties: z.record(z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/), propertyValue).optional(),
  features: featuresSchema.optional(),
};

export const accountCreateSchema = z
  .object({ username: usernameSchema, domain: domainNameSchema, password: passwordSchema, ...accountFields })
  .strict()
  .describe("a new SIP account");
export const accountPatchSchema = z
  .object({ password: passwordSchema.optional(), ...accountFields })
  .strict()
  .describe("changes to an account; omitted fields keep their value");

export const domainCreateSchema = z
  .object({ name: domainNameSchema, enabled: z.boolean().optional(), description: z.string().max(1024).nullable().optional() })
  .strict();
export const domainPatchSchema = z.object({ enabled: z.boolean().optional(), description: z.string().max(1024).nullable().optional() }).strict();

export const aliasCreateSchema = z
  .object({
    kind: z.enum(["alias", "did"]).optional().describe("alias (default): a second SIP address; did: a phone number"),
    alias: z.string().min(3).max(320).describe("user@domain; for a DID, +E.164@domain or just +E.164 (the account's domain is used)"),
    account: z.string().min(3).max(320).describe("user@domain of the account it maps to"),
  })
  .strict();

export const trustedPeerCreateSchema = z
  .object({
    cidr: z.string().refine(validCidr, "an IPv4/IPv6 address or CIDR, e.g. 192.0.2.0/24"),
    description: z.string().max(1024).nullable().optional(),
  })
  .strict();

export const importSchema = z
  .object({
    domains: z.array(domainCreateSchema).max(10000).optional(),
    accounts: z.array(accountCreateSchema).max(100000).optional(),
    aliases: z.array(aliasCreateSchema).max(100000).optional(),
  })
  .strict()
  .describe("bulk import: everything is created in one transaction, or nothing");

const boolText = z.enum(["true", "false"]).transform((v) => v === "true");
const pageFields = {
  limit: z.coerce.number().int().min(1).max(1000).optional(),
  offset: z.coerce.number().int().min(0).optional(),
};
export const accountQuerySchema = z
  .object({ ...pageFields, domain: domainNameSchema.optional(), q: z.string().max(64).optional(), enabled: boolText.optional(), blocked: boolText.optional(), group: z.string().max(32).optional() })
  .strict();
export const domainQuerySchema = z.object({ ...pageFields, q: z.string().max(64).optional() }).strict();
export const aliasQuerySchema = z.object({ ...pageFields, domain: domainNameSchema.optional(), account: z.string().max(320).optional(), kind: z.enum(["alias", "did"]).optional() }).strict();
export const pageQuerySchema = z.object(pageFields).strict();
export const auditQuerySchema = z.object({ ...pageFields, entity: z.string().max(32).optional(), key: z.string().max(512).optional() }).strict();

export type AccountCreate = z.infer<typeof accountCreateSchema>;
export type AccountPatchInput = z.infer<typeof accountPatchSchema>;
export type DomainCreate = z.infer<typeof domainCreateSchema>;
export type DomainPatchInput = z.infer<typeof domainPatchSchema>;
export type AliasCreate = z.infer<typeof aliasCreateSchema>;
export type TrustedPeerCreate = z.infer<typeof trustedPeerCreateSchema>;
export type ImportInput = z.infer<typeof importSchema>;
export type FeaturesInput = z.infer<typeof featuresSchema>;

export function validCidr(s: string): boolean {
  const [addr, prefix, ...rest] = s.split("/");
  if (rest.length > 0 || addr === undefined) return false;
  const v = isIP(addr);
  if (v === 0) return false;
  if (prefix === undefined) return true;
  if (!/^[0-9]{1,3}$/.test(prefix)) return false;
  return Number(prefix) <= (v === 4 ? 32 : 128);
}

/** Split `user@domain` (validating both parts); undefined when it is not an AOR. */
export function parseAor(aor: string): { username: string; domain: string } | undefined {
  const at = aor.lastIndexOf("@");
  if (at <= 0) return undefined;
  const username = aor.slice(0, at);
  const domain = aor.slice(at + 1).toLowerCase();
  if (!SIP_USER.test(username) || !DOMAIN.test(domain)) return undefined;
  return { username, domain };
}

/** Turn zod issues into `{ path, message }` pairs, unknown keys named. */
export function describeIssues(issues: readonly z.core.$ZodIssue[], prefix = ""): Array<{ path: string; message: string }> {
  return issues.map((i) => {
    const path = [prefix, ...i.path.map(String)].filter((p) => p !== "").join(".");
    if (i.code === "unrecognized_keys") return { path: path || "(body)", message: `unknown field(s): ${i.keys.join(", ")}` };
    return { path: path || "(body)", message: i.message };
  });
}
