/**
 * The XML kit of the XML protocols (XCAP, PIDF, pres-rules), on @xmldom/xmldom: parse without DTDs (a
 * DOCTYPE is refused, so no entity can expand), serialize, walk element
 * children, and the namespace bindings in scope. Nothing here throws on
 * bad input: parsing returns a result.
 */
import { DOMParser, XMLSerializer, type Document, type Element, type Node } from "@xmldom/xmldom";

export type { Document, Element, Node };

export type XmlParse = { ok: true; doc: Document } | { ok: false; reason: string };

const ELEMENT_NODE = 1;
const TEXT_NODE = 3;
const CDATA_NODE = 4;
const COMMENT_NODE = 8;
const PI_NODE = 7;

/**
 * Most markup (start tags, comments, processing instructions) a text may
 * hold before it is parsed: DOM building costs about the same per node
 * whatever the bytes, so the bound is on nodes. @default 4000
 */
export const MAX_XML_MARKUP = 4000;

/** Start tags, comments and processing instructions in `text`, counted without parsing (an upper bound of the elements). */
export function markupCount(text: string): number {
  let n = 0;
  for (let i = text.indexOf("<"); i >= 0; i = text.indexOf("<", i + 1)) if (text.charCodeAt(i + 1) !== 47 /* "/" */) n++;
  return n;
}

/** Parse a whole document. DOCTYPEs are refused (XCAP documents have none; they would open entity expansion). */
export function parseXml(text: string): XmlParse {
  if (/<!DOCTYPE/i.test(text)) return { ok: false, reason: "a DOCTYPE is not allowed" };
  if (markupCount(text) > MAX_XML_MARKUP) return { ok: false, reason: `more than ${MAX_XML_MARKUP} elements, comments and processing instructions` };
  let reason: string | undefined;
  const parser = new DOMParser({
    onError: (level: string, msg: string) => {
      if (level === "warning") return;
      reason ??= msg;
      throw new Error(msg);
    },
  });
  try {
    const doc = parser.parseFromString(text, "application/xml");
    if (reason !== undefined || !doc.documentElement) return { ok: false, reason: reason ?? "no root element" };
    return { ok: true, doc };
  } catch (err) {
    return { ok: false, reason: reason ?? (err instanceof Error ? err.message : String(err)) };
  }
}

export function serialize(node: Node): string {
  return new XMLSerializer().serializeToString(node);
}

export function isElement(n: Node | null | undefined): n is Element {
  return n !== null && n !== undefined && n.nodeType === ELEMENT_NODE;
}

/** The element children of `parent`, in document order. */
export function childElements(parent: Node): Element[] {
  const out: Element[] = [];
  for (let c = parent.firstChild; c; c = c.nextSibling) if (isElement(c)) out.push(c);
  return out;
}

/** Element children with this namespace and local name. */
export function children(parent: Node, ns: string | null, local: string): Element[] {
  return childElements(parent).filter((e) => e.namespaceURI === ns && e.localName === local);
}

/** The text of a node (its descendants' text joined), trimmed. */
export function textOf(node: Node): string {
  return (node.textContent ?? "").trim();
}

/** Whether a node is only layout: white-space text, a comment or a processing instruction. */
export function isIgnorable(n: Node): boolean {
  if (n.nodeType === COMMENT_NODE || n.nodeType === PI_NODE) return true;
  return (n.nodeType === TEXT_NODE || n.nodeType === CDATA_NODE) && /^\s*$/.test(n.nodeValue ?? "");
}

/** Depth of the deepest element below (and including) `root`, walked without recursion. */
export function depthOf(root: Element): number {
  let max = 0;
  const stack: Array<[Element, number]> = [[root, 1]];
  while (stack.length > 0) {
    const [e, d] = stack.pop()!;
    if (d > max) max = d;
    for (const c of childElements(e)) stack.push([c, d + 1]);
  }
  return max;
}

/** The namespace bindings in scope at `el` (prefix "" = the default namespace), nearest declaration wins. */
export function namespacesInScope(el: Element): Map<string, string> {
  const out = new Map<string, string>([["xml", "http://www.w3.org/XML/1998/namespace"]]);
  const chain: Element[] = [];
  for (let n: Node | null = el; n && isElement(n); n = n.parentNode) chain.push(n);
  for (const e of chain.reverse()) {
    for (let i = 0; i < e.attributes.length; i++) {
      const a = e.attributes.item(i)!;
      if (a.name === "xmlns") out.set("", a.value);
      else if (a.name.startsWith("xmlns:")) out.set(a.name.slice(6), a.value);
    }
  }
  if (out.get("") === "") out.delete("");
  return out;
}

/** Escape text for an attribute value or element content. */
export function escapeXml(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;").replace(/'/g, "&apos;");
}
