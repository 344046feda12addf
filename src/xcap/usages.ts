/**
 * XCAP application usages (RFC 4825 5): for each, its AUID, MIME type,
 * default document namespace, root element and the constraints a document
 * must meet beyond well-formedness (the schema's structure where it
 * matters to the consumers, and the uniqueness rules of each RFC):
 *
 * | AUID | RFC | root | checked |
 * | --- | --- | --- | --- |
 * | `pres-rules` | 5025 over 4745 | `cp:ruleset` | only `rule` children; `id` present, an NCName and unique; at most one conditions/actions/transformations each; `sub-handling` one of block, confirm, polite-block, allow; `one` has an `id` |
 * | `resource-lists` | 4826 3 | `resource-lists` | `list` children; in a list, `name` of lists, `uri` of entries, `ref` of entry-refs and `anchor` of externals unique among siblings and present where required |
 * | `rls-services` | 4826 4 | `rls-services` | `service` children with a unique `uri`; exactly one `list` or `resource-list`; a `packages` element; entries of a `list` unique |
 * | `pidf-manipulation` | 4827 | `pidf:presence` | `entity` present; `tuple` ids present and unique (with person/device ids); every tuple has a `status` |
 * | `xcap-caps` | 4825 12 | `xcap-caps` | global and read-only: the server writes it |
 */
import type { XcapConflict } from "./errors.js";
import { attributeOf } from "./node-selector.js";
import { childElements, children, type Document, type Element } from "../base/index.js";

export const NS = {
  commonPolicy: "urn:ietf:params:xml:ns:common-policy",
  presRules: "urn:ietf:params:xml:ns:pres-rules",
  resourceLists: "urn:ietf:params:xml:ns:resource-lists",
  rlsServices: "urn:ietf:params:xml:ns:rls-services",
  pidf: "urn:ietf:params:xml:ns:pidf",
  xcapCaps: "urn:ietf:params:xml:ns:xcap-caps",
} as const;

export interface ApplicationUsage {
  auid: string;
  mimeType: string;
  /** Unprefixed element names of node selectors are in this namespace (RFC 4825 6.3). */
  defaultNamespace: string;
  rootElement: string;
  /** Written by the server only (xcap-caps). */
  readOnly?: boolean;
  /** Checks beyond the root element; the first conflict found, or undefined. */
  validate(doc: Document): XcapConflict | undefined;
}

const invalid = (phrase: string): XcapConflict => ({ tag: "schema-validation-error", phrase });
const NCNAME = /^[A-Za-z_][A-Za-z0-9._-]*$/;
const URI = /^[A-Za-z][A-Za-z0-9+.-]*:[^\s<>"]+$/;
const SUB_HANDLING = new Set(["block", "confirm", "polite-block", "allow"]);
const none = (local: string) => ({ ns: null, local });

/** The first repeated value of `attr` among `els`, as a uniqueness failure with a suggestion. */
function unique(els: readonly Element[], attr: string, field: string): XcapConflict | undefined {
  const seen = new Set<string>();
  for (const e of els) {
    const v = attributeOf(e, none(attr));
    if (v === undefined) continue;
    if (seen.has(v)) {
      let alt = 2;
      while (seen.has(`${v}-${alt}`)) alt++;
      return { tag: "uniqueness-failure", phrase: `${field} "${v}" is not unique`, exists: [{ field, altValues: [`${v}-${alt}`] }] };
    }
    seen.add(v);
  }
  return undefined;
}

function required(els: readonly Element[], attr: string, what: string, check?: RegExp): XcapConflict | undefined {
  for (const e of els) {
    const v = attributeOf(e, none(attr));
    if (v === undefined) return invalid(`every <${what}> needs a ${attr} attribute`);
    if (check && !check.test(v)) return invalid(`<${what} ${attr}="${v.slice(0, 60)}">: not a valid ${attr}`);
  }
  return undefined;
}

// ------------------------------------------------------------ pres-rules

function validatePresRules(doc: Document): XcapConflict | undefined {
  const root = doc.documentElement!;
  const cp = NS.commonPolicy;
  for (const c of childElements(root)) if (c.namespaceURI !== cp || c.localName !== "rule") return invalid(`<ruleset> holds only <rule> elements, not <${c.localName}>`);
  const rules = children(root, cp, "rule");
  const bad = required(rules, "id", "rule", NCNAME) ?? unique(rules, "id", "ruleset/rule/@id");
  if (bad) return bad;
  for (const rule of rules) {
    for (const part of ["conditions", "actions", "transformations"]) if (children(rule, cp, part).length > 1) return invalid(`a <rule> has at most one <${part}>`);
    for (const cond of children(rule, cp, "conditions"))
      for (const identity of children(cond, cp, "identity")) {
        const one = children(identity, cp, "one");
        const r = required(one, "id", "one", URI);
        if (r) return r;
      }
    for (const actions of children(rule, cp, "actions"))
      for (const sh of children(actions, NS.presRules, "sub-handling")) {
        const v = (sh.textContent ?? "").trim();
        if (!SUB_HANDLING.has(v)) return invalid(`<sub-handling> is block, confirm, polite-block or allow, not "${v.slice(0, 40)}"`);
      }
  }
  return undefined;
}

// ------------------------------------------------------------ resource-lists

/** The constraints of RFC 4826 3.4.5 on one list's children, recursively. */
function validateListContent(list: Element, rl: string, path: string, depth = 0): XcapConflict | undefined {
  if (depth > 32) return invalid("lists nest at most 32 deep");
  const lists = children(list, rl, "list");
  const entries = children(list, rl, "entry");
  const refs = children(list, rl, "entry-ref");
  const externals = children(list, rl, "external");
  const bad =
    unique(lists, "name", `${path}/list/@name`) ??
    required(entries, "uri", "entry", URI) ??
    unique(entries, "uri", `${path}/entry/@uri`) ??
    required(refs, "ref", "entry-ref") ??
    unique(refs, "ref", `${path}/entry-ref/@ref`) ??
    required(externals, "anchor", "external", URI) ??
    unique(externals, "anchor", `${path}/external/@anchor`);
  if (bad) return bad;
  if (children(list, rl, "display-name").length > 1) return invalid("a list has at most one <display-name>");
  for (const l of lists) {
    const r = validateListContent(l, rl, `${path}/list`, depth + 1);
    if (r) return r;
  }
  return undefined;
}

function validateResourceLists(doc: Document): XcapConflict | undefined {
  const root = doc.documentElement!;
  const rl = NS.resourceLists;
  for (const c of childElements(root)) if (c.namespaceURI === rl && c.localName !== "list") return invalid(`<resource-lists> holds <list> elements, not <${c.localName}>`);
  const lists = children(root, rl, "list");
  const bad = unique(lists, "name", "resource-lists/list/@name");
  if (bad) return bad;
  for (const l of lists) {
    const r = validateListContent(l, rl, "resource-lists/list");
    if (r) return r;
  }
  return undefined;
}

// ------------------------------------------------------------ rls-services

function validateRlsServices(doc: Document): XcapConflict | undefined {
  const root = doc.documentElement!;
  const rs = NS.rlsServices;
  for (const c of childElements(root)) if (c.namespaceURI !== rs || c.localName !== "service") return invalid(`<rls-services> holds only <service> elements, not <${c.localName}>`);
  const services = children(root, rs, "service");
  const bad = required(services, "uri", "service", URI) ?? unique(services, "uri", "rls-services/service/@uri");
  if (bad) return bad;
  for (const s of services) {
    const lists = children(s, rs, "list");
    const refs = children(s, rs, "resource-list");
    if (lists.length + refs.length !== 1) return invalid("a <service> has exactly one <list> or <resource-list>");
    if (children(s, rs, "packages").length !== 1) return invalid("a <service> has one <packages> element");
    for (const r of refs) if (!URI.test((r.textContent ?? "").trim())) return invalid("<resource-list> holds the URI of a list");
    for (const l of lists) {
      const r = validateListContent(l, NS.resourceLists, "rls-services/service/list");
      if (r) return r;
    }
  }
  return undefined;
}

// ------------------------------------------------------------ pidf-manipulation

function validatePidf(doc: Document): XcapConflict | undefined {
  const root = doc.documentElement!;
  if (attributeOf(root, none("entity")) === undefined) return invalid("<presence> needs an entity attribute");
  const tuples = children(root, NS.pidf, "tuple");
  const withId = childElements(root).filter((e) => e.localName === "tuple" || e.localName === "person" || e.localName === "device");
  const bad = required(tuples, "id", "tuple", NCNAME) ?? unique(withId, "id", "presence/*/@id");
  if (bad) return bad;
  for (const t of tuples) if (children(t, NS.pidf, "status").length !== 1) return invalid("every <tuple> has one <status>");
  return undefined;
}

// ------------------------------------------------------------ the table

export const XCAP_CAPS_AUID = "xcap-caps";

export const APPLICATION_USAGES: readonly ApplicationUsage[] = [
  { auid: "pres-rules", mimeType: "application/auth-policy+xml", defaultNamespace: NS.commonPolicy, rootElement: "ruleset", validate: validatePresRules },
  { auid: "resource-lists", mimeType: "application/resource-lists+xml", defaultNamespace: NS.resourceLists, rootElement: "resource-lists", validate: validateResourceLists },
  { auid: "rls-services", mimeType: "application/rls-services+xml", defaultNamespace: NS.rlsServices, rootElement: "rls-services", validate: validateRlsServices },
  { auid: "pidf-manipulation", mimeType: "application/pidf+xml", defaultNamespace: NS.pidf, rootElement: "presence", validate: validatePidf },
  { auid: XCAP_CAPS_AUID, mimeType: "application/xcap-caps+xml", defaultNamespace: NS.xcapCaps, rootElement: "xcap-caps", readOnly: true, validate: () => undefined },
];

export function usageOf(auid: string): ApplicationUsage | undefined {
  return APPLICATION_USAGES.find((u) => u.auid === auid);
}

/** The root element check every usage shares, then the usage's own. */
export function validateDocument(usage: ApplicationUsage, doc: Document): XcapConflict | undefined {
  const root = doc.documentElement;
  if (!root || root.localName !== usage.rootElement || root.namespaceURI !== usage.defaultNamespace)
    return invalid(`the root element of a ${usage.auid} document is <${usage.rootElement} xmlns="${usage.defaultNamespace}">`);
  return usage.validate(doc);
}

/** The server's capabilities document (RFC 4825 12.2). */
export function xcapCapsDocument(): string {
  const auids = APPLICATION_USAGES.map((u) => `<auid>${u.auid}</auid>`).join("");
  const nss = [...new Set([...APPLICATION_USAGES.map((u) => u.defaultNamespace), NS.presRules, "urn:ietf:params:xml:ns:xcap-error"])].map((n) => `<namespace>${n}</namespace>`).join("");
  return `<?xml version="1.0" encoding="UTF-8"?>\n<xcap-caps xmlns="${NS.xcapCaps}"><auids>${auids}</auids><extensions/><namespaces>${nss}</namespaces></xcap-caps>\n`;
}
