/**
 * The buddy lists pres-rules use (RFC 5025 3.1.1 `external-list`): each
 * anchor is an XCAP URI of a `<list>` in a resource-lists document (RFC
 * 4826), e.g.
 * `http://xcap.example.com/xcap-root/resource-lists/users/sip:alice@example.com/index/~~/resource-lists/list%5b@name=%22friends%22%5d`.
 * The presence agent reads the documents from the central database and
 * hands the members (entry URIs) to the rules.
 *
 * - Only the presentity's own resource-lists documents are read: an anchor
 *   into another user's documents matches nobody (a user's rules must not
 *   depend on, or probe, someone else's lists).
 * - The anchor selects one `<list>` (or, without a node selector, the whole
 *   document); its entries count, and those of the lists nested in it.
 *   `entry-ref` and `external` are not followed.
 * - Bounded: {@link MAX_LIST_MEMBERS} members per anchor, nesting as the
 *   XCAP server allows it (32).
 */
import type { XcapDocumentKey } from "../db/index.js";
import { childElements, parseXml, type Element, type Logger } from "../base/index.js";
import { canonicalXui, parseNodeSelector, parseXcapUri, selectElements, XCAP_NAMESPACES, type Step } from "../xcap/index.js";

/** Members read per anchor. @default 1000 */
export const MAX_LIST_MEMBERS = 1000;
const RL_NS = XCAP_NAMESPACES.resourceLists;

/** The document and the element steps an anchor names, or why it is not used. */
export function parseAnchor(anchor: string, owner: string): { key: XcapDocumentKey; steps: Step[] | undefined } | { error: string } {
  let path: string;
  try {
    const u = new URL(anchor);
    path = `${u.pathname}${u.search}`;
  } catch {
    path = anchor;
  }
  const at = path.indexOf("/resource-lists/users/");
  if (at < 0) return { error: "not an XCAP URI of a resource-lists document" };
  const parsed = parseXcapUri(path, path.slice(0, at) || "/");
  if (!parsed.ok) return { error: parsed.reason };
  const { uri } = parsed;
  if (!uri.xui || canonicalXui(uri.xui)?.aor.toLowerCase() !== owner.toLowerCase()) return { error: "a list of another user's documents" };
  let steps: Step[] | undefined;
  if (uri.selector !== undefined) {
    const sel = parseNodeSelector(uri.selector, uri.namespaces, RL_NS);
    if (!sel.ok) return { error: `node selector: ${sel.reason}` };
    if (sel.selector.terminal) return { error: "the anchor selects an attribute, not a list" };
    steps = sel.selector.steps;
  }
  return { key: { auid: "resource-lists", xui: uri.xui, name: uri.document }, steps };
}

/** The entry URIs of the list `steps` selects in a resource-lists document (all lists without steps), nested lists included. */
export function listMembers(doc: string, steps: Step[] | undefined): string[] {
  const p = parseXml(doc);
  if (!p.ok) return [];
  const roots = steps ? selectElements(p.doc, steps) : [p.doc.documentElement!];
  if (roots.length !== 1) return [];
  const out: string[] = [];
  const walk = (el: Element) => {
    for (const c of childElements(el)) {
      if (out.length >= MAX_LIST_MEMBERS || c.namespaceURI !== RL_NS) continue;
      if (c.localName === "entry" && c.getAttribute("uri")) out.push(c.getAttribute("uri")!);
      else if (c.localName === "list") walk(c);
    }
  };
  walk(roots[0]!);
  return out;
}

/** The members of each anchor a presentity's rules name (anchors not usable are left out and logged). */
export async function readExternalLists(owner: string, anchors: readonly string[], read: (key: XcapDocumentKey) => Promise<string | undefined>, log: Logger): Promise<Map<string, string[]>> {
  const out = new Map<string, string[]>();
  const docs = new Map<string, string | undefined>();
  for (const anchor of anchors) {
    const a = parseAnchor(anchor, owner);
    if ("error" in a) {
      log.info({ aor: owner, anchor: anchor.slice(0, 200), why: a.error }, "external-list anchor not used: it matches nobody");
      continue;
    }
    const id = `${a.key.auid}/${a.key.xui}/${a.key.name}`;
    if (!docs.has(id)) docs.set(id, await read(a.key));
    const doc = docs.get(id);
    out.set(anchor, doc === undefined ? [] : listMembers(doc, a.steps));
  }
  return out;
}
