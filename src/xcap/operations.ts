/**
 * The XCAP operations on one document (RFC 4825 7-8), sans-IO: read a
 * document, element, attribute or the namespace bindings of an element;
 * put or delete an element or attribute. Each takes the stored text and
 * returns the answer body or the new text; each failure is an
 * {@link XcapError} carrying the status (404, 405, 409 with its conflict
 * report). The service around it handles storage, ETags and limits.
 */
import { XcapBadRequestError, XcapConflictError, XcapError, XcapMethodError, XcapNotFoundError } from "./errors.js";
import { applyStep, attributeOf, parseNodeSelector, selectElements, splitSteps, type ExpandedName, type NodeSelector } from "./node-selector.js";
import { validateDocument, type ApplicationUsage } from "./usages.js";
import { childElements, depthOf, escapeXml, isElement, isIgnorable, markupCount, MAX_XML_MARKUP, namespacesInScope, parseXml, serialize, type Document, type Element } from "../base/index.js";

export const MIME_ELEMENT = "application/xcap-el+xml";
export const MIME_ATTRIBUTE = "application/xcap-att+xml";
export const MIME_NAMESPACES = "application/xcap-ns+xml";
export const MIME_ERROR = "application/xcap-error+xml";

/** Deepest element nesting a document may have. @default 32 */
export const MAX_XML_DEPTH = 32;

export interface XcapRead {
  body: string;
  contentType: string;
}

/** The node selector of a request, parsed against the usage's default namespace (400 when it does not parse). */
export function parseSelector(text: string, namespaces: ReadonlyMap<string, string>, usage: ApplicationUsage): NodeSelector {
  const r = parseNodeSelector(text, namespaces, usage.defaultNamespace);
  if (!r.ok) throw new XcapBadRequestError(`node selector: ${r.reason}`);
  if (r.selector.steps.length === 0) throw new XcapBadRequestError("node selector: no element step");
  return r.selector;
}

/** Parse a stored or submitted whole document and check it against its usage (409 when it fails). */
export function checkDocument(text: string, usage: ApplicationUsage): Document {
  if (markupCount(text) > MAX_XML_MARKUP) throw new XcapConflictError({ tag: "constraint-failure", phrase: `a document holds at most ${MAX_XML_MARKUP} elements, comments and processing instructions` });
  const p = parseXml(text);
  if (!p.ok) throw new XcapConflictError({ tag: "not-well-formed", phrase: p.reason.slice(0, 200) });
  if (depthOf(p.doc.documentElement!) > MAX_XML_DEPTH) throw new XcapConflictError({ tag: "constraint-failure", phrase: `elements nest at most ${MAX_XML_DEPTH} deep` });
  const bad = validateDocument(usage, p.doc);
  if (bad) throw new XcapConflictError(bad);
  return p.doc;
}

function stored(text: string): Document {
  const p = parseXml(text);
  if (!p.ok) throw new XcapError("THOR_XCAP_STORED", 500, `a stored document does not parse: ${p.reason}`);
  return p.doc;
}

function one(doc: Document, sel: NodeSelector): Element {
  const found = selectElements(doc, sel.steps);
  if (found.length !== 1) throw new XcapNotFoundError(found.length === 0 ? `no element selected by ${sel.text}` : `${sel.text} selects ${found.length} elements (a node selector must select one)`);
  return found[0]!;
}

/** GET of an element, attribute or namespace bindings (RFC 4825 7.3, 7.6, 7.7). */
export function readNode(text: string, sel: NodeSelector): XcapRead {
  const doc = stored(text);
  const el = one(doc, sel);
  if (!sel.terminal) return { body: serialize(el), contentType: MIME_ELEMENT };
  if (sel.terminal.kind === "attribute") {
    const v = attributeOf(el, sel.terminal.name);
    if (v === undefined) throw new XcapNotFoundError(`no attribute selected by ${sel.text}`);
    return { body: escapeXml(v), contentType: MIME_ATTRIBUTE };
  }
  const decls = [...namespacesInScope(el)].filter(([p]) => p !== "xml").map(([p, ns]) => `${p ? `xmlns:${p}` : "xmlns"}="${escapeXml(ns)}"`);
  return { body: `<${el.tagName} ${decls.join(" ")}/>`, contentType: MIME_NAMESPACES };
}

export interface XcapWrite {
  /** The new document text. */
  text: string;
  /** True when the element or attribute did not exist before (201). */
  created: boolean;
}

/** PUT of an element or attribute into a stored document (RFC 4825 7.4, 7.5, 8.2.3). */
export function putNode(text: string, usage: ApplicationUsage, sel: NodeSelector, body: string, contentType: string): XcapWrite {
  const doc = stored(text);
  if (sel.terminal?.kind === "namespace") throw new XcapMethodError("namespace bindings are read-only (GET only)");
  if (sel.terminal?.kind === "attribute") return putAttribute(doc, usage, sel, sel.terminal.name, body, contentType);
  if (contentType !== MIME_ELEMENT) throw new XcapError("THOR_XCAP_MEDIA_TYPE", 415, `an element is written as ${MIME_ELEMENT}`);
  const existing = selectElements(doc, sel.steps);
  if (existing.length > 1) throw new XcapConflictError({ tag: "cannot-insert", phrase: `${sel.text} selects ${existing.length} elements` });
  const parentSteps = sel.steps.slice(0, -1);
  const target = existing[0];
  let parent: Element | undefined;
  if (target) parent = target.parentNode && isElement(target.parentNode) ? target.parentNode : undefined;
  else if (parentSteps.length > 0) {
    const ps = selectElements(doc, parentSteps);
    if (ps.length !== 1) throw new XcapConflictError({ tag: "no-parent", phrase: "the parent of the element does not exist", ancestor: ancestorOf(doc, sel) });
    parent = ps[0];
  }
  const context = parent ?? doc.documentElement!;
  const el = parseFragment(body, context);
  const imported = doc.importNode(el, true) as Element;
  if (target) {
    if (target === doc.documentElement) doc.replaceChild(imported, target);
    else target.parentNode!.replaceChild(imported, target);
  } else {
    if (!parent) throw new XcapConflictError({ tag: "cannot-insert", phrase: "a document has one root element" });
    insertAt(parent, imported, sel.steps[sel.steps.length - 1]!);
  }
  // RFC 4825 8.2.3: after the insertion the request URI must select the new element.
  const after = selectElements(doc, sel.steps);
  if (after.length !== 1 || after[0] !== imported) throw new XcapConflictError({ tag: "cannot-insert", phrase: `the element would not be selected by ${sel.text} after the change` });
  return { text: finish(doc, usage), created: target === undefined };
}

function putAttribute(doc: Document, usage: ApplicationUsage, sel: NodeSelector, name: ExpandedName, body: string, contentType: string): XcapWrite {
  if (contentType !== MIME_ATTRIBUTE) throw new XcapError("THOR_XCAP_MEDIA_TYPE", 415, `an attribute is written as ${MIME_ATTRIBUTE}`);
  const found = selectElements(doc, sel.steps);
  if (found.length !== 1) throw new XcapConflictError({ tag: "no-parent", phrase: "the element of the attribute does not exist", ancestor: ancestorOf(doc, sel) });
  const el = found[0]!;
  const value = parseAttValue(body);
  const created = attributeOf(el, name) === undefined;
  if (name.ns === null) el.setAttribute(name.local, value);
  else {
    const prefix = [...namespacesInScope(el)].find(([p, ns]) => p !== "" && ns === name.ns)?.[0] ?? "a";
    el.setAttributeNS(name.ns, `${prefix}:${name.local}`, value);
  }
  return { text: finish(doc, usage), created };
}

/** DELETE of an element or attribute (RFC 4825 7.8, 7.9, 8.2.5). */
export function deleteNode(text: string, usage: ApplicationUsage, sel: NodeSelector): string {
  const doc = stored(text);
  if (sel.terminal?.kind === "namespace") throw new XcapMethodError("namespace bindings are read-only (GET only)");
  const el = one(doc, sel);
  if (sel.terminal?.kind === "attribute") {
    const name = sel.terminal.name;
    if (attributeOf(el, name) === undefined) throw new XcapNotFoundError(`no attribute selected by ${sel.text}`);
    if (name.ns === null) el.removeAttribute(name.local);
    else el.removeAttributeNS(name.ns, name.local);
    return finish(doc, usage);
  }
  if (el === doc.documentElement) throw new XcapConflictError({ tag: "cannot-delete", phrase: "the root element is deleted with the document" });
  el.parentNode!.removeChild(el);
  // RFC 4825 8.2.5: the request URI must select nothing afterwards, or a repeated DELETE would remove another element.
  if (selectElements(doc, sel.steps).length > 0) throw new XcapConflictError({ tag: "cannot-delete", phrase: `${sel.text} would select another element after the deletion` });
  return finish(doc, usage);
}

function finish(doc: Document, usage: ApplicationUsage): string {
  const root = doc.documentElement!;
  if (depthOf(root) > MAX_XML_DEPTH) throw new XcapConflictError({ tag: "constraint-failure", phrase: `elements nest at most ${MAX_XML_DEPTH} deep` });
  const bad = validateDocument(usage, doc);
  if (bad) throw new XcapConflictError(bad);
  return `<?xml version="1.0" encoding="UTF-8"?>\n${serialize(root)}\n`;
}

/** The body of an element PUT: one element, parsed with the namespace bindings in scope at its parent (RFC 4825 8.2.3). */
function parseFragment(body: string, context: Element): Element {
  const decls = [...namespacesInScope(context)].filter(([p]) => p !== "xml").map(([p, ns]) => `${p ? `xmlns:${p}` : "xmlns"}="${escapeXml(ns)}"`);
  const wrapped = `<thor-xcap-fragment ${decls.join(" ")}>${body.replace(/^\s*<\?xml[^>]*\?>/, "")}</thor-xcap-fragment>`;
  const p = parseXml(wrapped);
  if (!p.ok) throw new XcapConflictError({ tag: "not-xml-frag", phrase: p.reason.slice(0, 200) });
  const wrapper = p.doc.documentElement!;
  let el: Element | undefined;
  for (let c = wrapper.firstChild; c; c = c.nextSibling) {
    if (isElement(c)) {
      if (el) throw new XcapConflictError({ tag: "not-xml-frag", phrase: "the body holds more than one element" });
      el = c;
    } else if (!isIgnorable(c)) throw new XcapConflictError({ tag: "not-xml-frag", phrase: "text outside the element" });
  }
  if (!el) throw new XcapConflictError({ tag: "not-xml-frag", phrase: "the body holds no element" });
  return el;
}

/** The body of an attribute PUT: a valid AttValue once quoted (RFC 4825 8.2.3), entities resolved. */
function parseAttValue(body: string): string {
  const q = body.includes('"') ? "'" : '"';
  if (body.includes(q) || body.includes("<")) throw new XcapConflictError({ tag: "not-xml-att-value", phrase: "not a valid attribute value" });
  const p = parseXml(`<v a=${q}${body}${q}/>`);
  if (!p.ok) throw new XcapConflictError({ tag: "not-xml-att-value", phrase: p.reason.slice(0, 200) });
  return p.doc.documentElement!.getAttribute("a") ?? "";
}

/** Insert `el` under `parent` where the last step says: at its position among matching siblings, else after the last element. */
function insertAt(parent: Element, el: Element, step: NodeSelector["steps"][number]): void {
  const kids = childElements(parent);
  if (step.position !== undefined) {
    const matching = applyStep(kids, { name: step.name });
    if (step.position > matching.length + 1) throw new XcapConflictError({ tag: "cannot-insert", phrase: `there are only ${matching.length} such elements: position ${step.position} cannot be created` });
    const before = matching[step.position - 1];
    if (before) {
      parent.insertBefore(el, before);
      return;
    }
    const lastMatch = matching[matching.length - 1];
    if (lastMatch) {
      parent.insertBefore(el, lastMatch.nextSibling);
      return;
    }
  }
  const last = kids[kids.length - 1];
  parent.insertBefore(el, last ? last.nextSibling : null);
}

/** The URI (document path + "/~~/" + steps) of the deepest existing ancestor of the selector's target, for <no-parent>. */
function ancestorOf(doc: Document, sel: NodeSelector): string | undefined {
  const parts = splitSteps(sel.text) ?? [];
  for (let n = sel.steps.length - 1; n >= 1; n--) if (selectElements(doc, sel.steps.slice(0, n)).length === 1) return parts.slice(0, n).join("/");
  return undefined;
}

