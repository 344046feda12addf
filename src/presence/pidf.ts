/**
 * PIDF (RFC 3863) for the presence package: checking a published
 * document, and composing the document a watcher receives from all the
 * publications of a presentity (its devices). Tuples, RPID person/device
 * elements (RFC 4480, RFC 4479) and any extension are passed through as
 * published, namespaces included; element ids clashing between
 * publications are made unique. With no publication left, the document
 * says the presentity is offline (one closed tuple); the same neutral
 * document goes to politely blocked and pending watchers.
 */
import { childElements, escapeXml, parseXml, serialize, type Element } from "../base/index.js";

export const PIDF_NS = "urn:ietf:params:xml:ns:pidf";

/** Why a published document is refused (400), or undefined when it is a PIDF document of `aor`. */
export function checkPidf(text: string, aor: string): string | undefined {
  const p = parseXml(text);
  if (!p.ok) return `the PIDF document does not parse: ${p.reason.slice(0, 120)}`;
  const root = p.doc.documentElement!;
  if (root.localName !== "presence" || root.namespaceURI !== PIDF_NS) return `the root element is <presence xmlns="${PIDF_NS}">`;
  const entity = root.getAttribute("entity") ?? "";
  if (entity.replace(/^(pres|sips?):/i, "").toLowerCase() !== aor.toLowerCase()) return `the entity "${entity.slice(0, 80)}" is not the presentity ${aor}`;
  for (const t of childElements(root)) {
    if (t.namespaceURI === PIDF_NS && t.localName === "tuple") {
      if (!t.getAttribute("id")) return "every <tuple> has an id";
      if (!childElements(t).some((c) => c.namespaceURI === PIDF_NS && c.localName === "status")) return "every <tuple> has a <status>";
    }
  }
  return undefined;
}

/** The offline document of a presentity (no publication, or a neutral view). */
export function offlinePidf(aor: string): string {
  return `<?xml version="1.0" encoding="UTF-8"?>\n<presence xmlns="${PIDF_NS}" entity="pres:${escapeXml(aor)}"><tuple id="offline"><status><basic>closed</basic></status></tuple></presence>\n`;
}

/**
 * One document of all the publications of `aor` (oldest first): every
 * child of each publication's <presence> in order, ids kept unique.
 */
export function composePidf(aor: string, publications: readonly string[]): string {
  const parts: string[] = [];
  const ids = new Set<string>();
  for (const [n, text] of publications.entries()) {
    const p = parseXml(text);
    if (!p.ok) continue;
    for (const el of childElements(p.doc.documentElement!)) {
      const id = el.getAttribute("id");
      if (id) {
        let unique = id;
        for (let k = n + 1; ids.has(unique); k++) unique = `${id}-${k}`;
        ids.add(unique);
        if (unique !== id) el.setAttribute("id", unique);
      }
      // The serializer declares the namespaces each element and its descendants use.
      parts.push(serialize(el));
    }
  }
  if (parts.length === 0) return offlinePidf(aor);
  return `<?xml version="1.0" encoding="UTF-8"?>\n<presence xmlns="${PIDF_NS}" entity="pres:${escapeXml(aor)}">${parts.join("")}</presence>\n`;
}
