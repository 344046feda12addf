/**
 * The `xcap-diff` event package (RFC 5875) and its document (RFC 5874):
 * a user subscribes to their own XCAP documents and is told, after each
 * write, which document changed from which entity tag to which (no patch
 * operations: the client fetches what it needs, RFC 5874 allows that).
 *
 * - The SUBSCRIBE body, when there is one, is a resource-lists document
 *   (RFC 4826) whose `<entry uri>` are XCAP URIs relative to the XCAP root
 *   (`resource-lists/users/sip:joe@example.com/index`), or directories
 *   (ending in `/`: every document under it). Without a body the
 *   subscription covers all the user's documents (RFC 5875 4.1 leaves the
 *   default to the server). Only the user's own documents can be named.
 * - The first NOTIFY lists every covered document with its `new-etag`;
 *   later ones one `<document>` per change, with `previous-etag` and
 *   `new-etag` (only `previous-etag` when the document was deleted).
 * Sans-IO, bounded: at most {@link MAX_XCAP_DIFF_RESOURCES} resources.
 */
import { childElements, escapeXml, parseXml } from "../base/index.js";

export const XCAP_DIFF_NS = "urn:ietf:params:xml:ns:xcap-diff";
export const XCAP_DIFF_TYPE = "application/xcap-diff+xml";
export const RESOURCE_LISTS_NS = "urn:ietf:params:xml:ns:resource-lists";
/** Resources one xcap-diff subscription may name. @default 32 */
export const MAX_XCAP_DIFF_RESOURCES = 32;
const MAX_RESOURCE_CHARS = 512;

/** A document as the XCAP server holds it: its selector relative to the root, and its tag. */
export interface XcapDocumentState {
  /** `<auid>/users/<xui>/<document>`. */
  sel: string;
  etag: string;
}

/** One change: a new document (`newEtag` only), a new version (both), a deletion (`previousEtag` only). */
export interface XcapDocumentDiff {
  sel: string;
  previousEtag?: string;
  newEtag?: string;
}

/** What a subscription covers: the owner's documents, all or those named. */
export type XcapResources = readonly string[] | undefined;

/** The selector of a user's document (`auid/users/xui/document`). */
export function xcapSel(auid: string, xui: string, document: string): string {
  return `${auid}/users/${xui}/${document}`;
}

/** Whether a document is covered by a subscription's resources (undefined: all of the owner's). */
export function covers(resources: XcapResources, sel: string): boolean {
  if (!resources) return true;
  return resources.some((r) => (r.endsWith("/") ? sel.startsWith(r) : sel === r));
}

/** The xui segment of a selector (`auid/users/<xui>/...`), undefined when it is not a users path. */
function xuiOf(sel: string): string | undefined {
  const parts = sel.split("/");
  return parts.length >= 3 && parts[1] === "users" && parts[0]!.length > 0 ? decodeURIComponent(parts[2]!) : undefined;
}

const sameUser = (xui: string, aor: string) => xui.replace(/^sips?:/i, "").toLowerCase() === aor.toLowerCase();

/**
 * The resources of a SUBSCRIBE body (a resource-lists document), or why it
 * is refused: `status` 400 for a bad document, 403 for another user's
 * documents.
 */
export function parseXcapDiffResources(body: string, owner: string): { ok: true; resources: string[] } | { ok: false; status: 400 | 403; reason: string } {
  const p = parseXml(body);
  if (!p.ok) return { ok: false, status: 400, reason: `the resource list does not parse: ${p.reason.slice(0, 120)}` };
  const root = p.doc.documentElement!;
  if (root.localName !== "resource-lists" || root.namespaceURI !== RESOURCE_LISTS_NS) return { ok: false, status: 400, reason: `the body is a <resource-lists xmlns="${RESOURCE_LISTS_NS}"> document` };
  const out: string[] = [];
  for (const list of childElements(root)) {
    if (list.localName !== "list" || list.namespaceURI !== RESOURCE_LISTS_NS) continue;
    for (const entry of childElements(list)) {
      if (entry.localName !== "entry" || entry.namespaceURI !== RESOURCE_LISTS_NS) continue;
      let uri = (entry.getAttribute("uri") ?? "").trim();
      // An absolute XCAP URI: keep the part after the root (RFC 5875 4.1 uses paths relative to it).
      const abs = /^https?:\/\/[^/]+\/(?:[^/]+\/)*?xcap-root\/(.*)$/i.exec(uri);
      if (abs) uri = abs[1]!;
      if (uri.length === 0 || uri.length > MAX_RESOURCE_CHARS) return { ok: false, status: 400, reason: `an <entry uri> is a path relative to the XCAP root of at most ${MAX_RESOURCE_CHARS} characters` };
      const xui = xuiOf(uri);
      if (!xui) return { ok: false, status: 400, reason: `"${uri.slice(0, 80)}" is not <auid>/users/<xui>/...` };
      if (!sameUser(xui, owner)) return { ok: false, status: 403, reason: "a user subscribes only to their own documents" };
      if (out.length >= MAX_XCAP_DIFF_RESOURCES) return { ok: false, status: 400, reason: `at most ${MAX_XCAP_DIFF_RESOURCES} resources per subscription` };
      out.push(uri);
    }
  }
  if (out.length === 0) return { ok: false, status: 400, reason: "the resource list names no document" };
  return { ok: true, resources: out };
}

/** The xcap-diff document (RFC 5874) of some documents' changes, or of their full state. */
export function xcapDiffDocument(xcapRoot: string, documents: readonly XcapDocumentDiff[]): string {
  const root = xcapRoot.endsWith("/") ? xcapRoot : `${xcapRoot}/`;
  const items = documents.map((d) => `<document sel="${escapeXml(d.sel)}"${d.previousEtag !== undefined ? ` previous-etag="${escapeXml(d.previousEtag)}"` : ""}${d.newEtag !== undefined ? ` new-etag="${escapeXml(d.newEtag)}"` : ""}/>`);
  return `<?xml version="1.0" encoding="UTF-8"?>\n<xcap-diff xmlns="${XCAP_DIFF_NS}" xcap-root="${escapeXml(root)}">${items.join("")}</xcap-diff>\n`;
}
