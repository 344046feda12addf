/**
 * XCAP node selectors (RFC 4825 6.3), sans-IO: the parser turns the
 * percent-decoded selector into steps, the evaluator walks a DOM.
 *
 * ```
 * node-selector     = element-selector ["/" terminal-selector]
 * terminal-selector = attribute-selector / namespace-selector
 * element-selector  = step *( "/" step)
 * step              = by-name / by-pos / by-attr / by-pos-attr
 * by-name           = NameorAny
 * by-pos            = NameorAny "[" position "]"
 * by-attr           = NameorAny "[" attr-test "]"
 * by-pos-attr       = NameorAny "[" position "]" "[" attr-test "]"
 * attr-test         = "@" att-name "=" att-value      ; '...' or "..."
 * attribute-selector= "@" att-name
 * namespace-selector= "namespace::*"
 * NameorAny         = QName / "*"
 * ```
 *
 * Unprefixed element names are in the application usage's default
 * document namespace (RFC 4825 6.3); unprefixed attribute names are in no
 * namespace; prefixes come from the request's `xmlns()` query. Nothing here
 * throws: parsing returns a result, and selection returns what it found.
 */
import { childElements, isElement, type Document, type Element } from "../base/index.js";

/** A qualified name resolved to its namespace (`null`: no namespace). */
export interface ExpandedName {
  ns: string | null;
  local: string;
}

export interface Step {
  /** Undefined for `*`. */
  name: ExpandedName | undefined;
  /** 1-based position among the siblings the name test matches. */
  position?: number;
  attr?: { name: ExpandedName; value: string };
}

export type Terminal = { kind: "attribute"; name: ExpandedName } | { kind: "namespace" };

export interface NodeSelector {
  steps: Step[];
  terminal?: Terminal;
  /** The selector as given (decoded), for error bodies. */
  text: string;
}

export type SelectorParse = { ok: true; selector: NodeSelector } | { ok: false; reason: string };

/** Bounds against hostile selectors. */
export const MAX_SELECTOR_LENGTH = 4096;
export const MAX_SELECTOR_STEPS = 64;

const NCNAME = /^[A-Za-z_][A-Za-z0-9._-]*$/;

/**
 * Parse a node selector. `namespaces` maps prefixes of the `xmlns()` query;
 * `defaultNs` is the application usage's default document namespace.
 */
export function parseNodeSelector(text: string, namespaces: ReadonlyMap<string, string>, defaultNs: string): SelectorParse {
  if (text.length === 0) return { ok: false, reason: "empty node selector" };
  if (text.length > MAX_SELECTOR_LENGTH) return { ok: false, reason: `node selector longer than ${MAX_SELECTOR_LENGTH} characters` };
  const parts = splitSteps(text);
  if (!parts) return { ok: false, reason: "unbalanced quote or bracket in the node selector" };
  if (parts.length > MAX_SELECTOR_STEPS + 1) return { ok: false, reason: `more than ${MAX_SELECTOR_STEPS} steps` };
  const steps: Step[] = [];
  let terminal: Terminal | undefined;
  for (let i = 0; i < parts.length; i++) {
    const part = parts[i]!;
    const last = i === parts.length - 1;
    if (part === "namespace::*" || part.startsWith("@")) {
      if (!last || i === 0) return { ok: false, reason: `"${part}" may only end a node selector, after an element step` };
      if (part === "namespace::*") terminal = { kind: "namespace" };
      else {
        const name = resolveName(part.slice(1), namespaces, null);
        if (typeof name === "string") return { ok: false, reason: name };
        terminal = { kind: "attribute", name };
      }
      continue;
    }
    const step = parseStep(part, namespaces, defaultNs);
    if (typeof step === "string") return { ok: false, reason: step };
    steps.push(step);
  }
  return { ok: true, selector: { steps, ...(terminal ? { terminal } : {}), text } };
}

/** Split on "/" outside quotes and brackets; undefined when unbalanced. */
export function splitSteps(text: string): string[] | undefined {
  const out: string[] = [];
  let cur = "";
  let quote = "";
  let depth = 0;
  for (const ch of text) {
    if (quote) {
      if (ch === quote) quote = "";
      cur += ch;
      continue;
    }
    if (ch === '"' || ch === "'") quote = ch;
    else if (ch === "[") depth++;
    else if (ch === "]") {
      if (--depth < 0) return undefined;
    } else if (ch === "/" && depth === 0) {
      out.push(cur);
      cur = "";
      continue;
    }
    cur += ch;
  }
  if (quote || depth !== 0) return undefined;
  out.push(cur);
  return out;
}

function resolveName(qname: string, namespaces: ReadonlyMap<string, string>, unprefixed: string | null): ExpandedName | string {
  const colon = qname.indexOf(":");
  const prefix = colon < 0 ? "" : qname.slice(0, colon);
  const local = colon < 0 ? qname : qname.slice(colon + 1);
  if (!NCNAME.test(local) || (prefix && !NCNAME.test(prefix))) return `"${qname}" is not a valid name`;
  if (!prefix) return { ns: unprefixed, local };
  const ns = namespaces.get(prefix);
  if (ns === undefined) return `the prefix "${prefix}" is not bound by an xmlns() in the query`;
  return { ns, local };
}

function parseStep(part: string, namespaces: ReadonlyMap<string, string>, defaultNs: string): Step | string {
  // Predicates may hold "]" inside a quoted value: match them by hand.
  const open = part.indexOf("[");
  const head = open < 0 ? part : part.slice(0, open);
  if (head === "") return `empty step in the node selector`;
  let name: ExpandedName | undefined;
  if (head !== "*") {
    const n = resolveName(head, namespaces, defaultNs);
    if (typeof n === "string") return n;
    name = n;
  }
  const step: Step = { name };
  const preds = open < 0 ? [] : splitPredicates(part.slice(open));
  if (!preds) return `bad predicate in "${part}"`;
  if (preds.length > 2) return `too many predicates in "${part}"`;
  for (let i = 0; i < preds.length; i++) {
    const p = preds[i]!;
    if (/^[0-9]+$/.test(p)) {
      if (i !== 0) return `the position must come before the attribute test in "${part}"`;
      const n = Number(p);
      if (!Number.isSafeInteger(n) || n < 1) return `position ${p} is not a positive integer`;
      step.position = n;
      continue;
    }
    const m = /^@([^=\s]+)\s*=\s*("([^"]*)"|'([^']*)')$/.exec(p);
    if (!m || step.attr) return `bad predicate [${p}] (write [n], [@name="value"] or [n][@name="value"])`;
    const an = resolveName(m[1]!, namespaces, null);
    if (typeof an === "string") return an;
    step.attr = { name: an, value: decodeEntities(m[3] ?? m[4] ?? "") };
  }
  return step;
}

function splitPredicates(s: string): string[] | undefined {
  const out: string[] = [];
  let i = 0;
  while (i < s.length) {
    if (s[i] !== "[") return undefined;
    let j = i + 1;
    let quote = "";
    for (; j < s.length; j++) {
      const ch = s[j]!;
      if (quote) {
        if (ch === quote) quote = "";
      } else if (ch === '"' || ch === "'") quote = ch;
      else if (ch === "]") break;
    }
    if (j >= s.length) return undefined;
    out.push(s.slice(i + 1, j));
    i = j + 1;
  }
  return out;
}

/** The predefined entities and character references of an AttValue. */
function decodeEntities(v: string): string {
  return v.replace(/&(lt|gt|amp|quot|apos|#[0-9]+|#x[0-9a-fA-F]+);/g, (_m, e: string) => {
    if (e === "lt") return "<";
    if (e === "gt") return ">";
    if (e === "amp") return "&";
    if (e === "quot") return '"';
    if (e === "apos") return "'";
    const code = e.startsWith("#x") ? parseInt(e.slice(2), 16) : parseInt(e.slice(1), 10);
    return code > 0 && code <= 0x10ffff ? String.fromCodePoint(code) : "";
  });
}

function nameMatches(e: Element, name: ExpandedName | undefined): boolean {
  return name === undefined || (e.localName === name.local && (e.namespaceURI ?? null) === name.ns);
}

/** The attribute value of `e` with this expanded name, or undefined. */
export function attributeOf(e: Element, name: ExpandedName): string | undefined {
  const a = name.ns === null ? e.getAttributeNode(name.local) : e.getAttributeNodeNS(name.ns, name.local);
  if (!a) return undefined;
  // An unprefixed getAttributeNode also finds "p:local"; keep only attributes in no namespace.
  if (name.ns === null && a.namespaceURI) return undefined;
  return a.value;
}

/** The elements among `candidates` that one step selects. */
export function applyStep(candidates: readonly Element[], step: Step): Element[] {
  let out = candidates.filter((e) => nameMatches(e, step.name));
  if (step.position !== undefined) out = out.length >= step.position ? [out[step.position - 1]!] : [];
  if (step.attr) {
    const { name, value } = step.attr;
    out = out.filter((e) => attributeOf(e, name) === value);
  }
  return out;
}

/**
 * The elements the element steps select in `doc` (the first step matches
 * the root element). More than one is possible; XCAP treats that as "not
 * found" (RFC 4825 6.3).
 */
export function selectElements(doc: Document, steps: readonly Step[]): Element[] {
  const root = doc.documentElement;
  if (!root || steps.length === 0) return [];
  let cur = applyStep([root], steps[0]!);
  for (let i = 1; i < steps.length && cur.length > 0; i++) {
    const next: Element[] = [];
    for (const e of cur) next.push(...applyStep(childElements(e), steps[i]!));
    cur = next;
  }
  return cur;
}

/** The one element the steps select, or undefined (none, or several). */
export function selectElement(doc: Document, steps: readonly Step[]): Element | undefined {
  const found = selectElements(doc, steps);
  return found.length === 1 ? found[0] : undefined;
}

/** Whether `e` is the document's root element. */
export function isRoot(doc: Document, e: Element): boolean {
  return doc.documentElement === e && isElement(e);
}
