/**
 * PIDF (RFC 3863) for the presence package: checking a published
 * document, and composing the document a watcher receives from all the
 * publications of a presentity (its devices). Tuples, RPID person/device
 * elements (RFC 4480, RFC 4479) and any extension are passed through as
 * published, namespaces included; element ids clashing between
 * publications are made unique. With no publication left, the document
 * says the presentity is offline (one closed tuple); the same neutral
 * document goes to politely blocked and pending watchers.
 *
 * Composition policy (RFC 4479 leaves it to the compositor; docs/presence.md):
 * - tuples whose `<basic>` is `open` come first, then the others, each
 *   group newest publication first: simple clients (baresip reads only the
 *   first `<basic>` of a document) see the presentity as reachable when any
 *   device is;
 * - the `<person>` (RFC 4479) is the newest publication's: one person, whose
 *   activities (RPID away, busy...) are the latest the presentity said;
 * - devices and extensions of every publication are kept, newest first.
 */
import { childElements, escapeXml, parseXml, serialize, textOf, type Element } from "../base/index.js";

export const PIDF_NS = "urn:ietf:params:xml:ns:pidf";
export const DATA_MODEL_NS = "urn:ietf:params:xml:ns:pidf:data-model";

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
      const status = childElements(t).find((c) => c.namespaceURI === PIDF_NS && c.localName === "status");
      if (!status) return "every <tuple> has a <status>";
      // RFC 3863 4.1.4 and its schema: basic is open or closed (a client's "unknown" would read as a state).
      for (const b of childElements(status))
        if (b.namespaceURI === PIDF_NS && b.localName === "basic" && !/^(open|closed)$/.test(textOf(b).trim())) return `<basic> is "open" or "closed", not "${textOf(b).trim().slice(0, 20)}"`;
    }
  }
  return undefined;
}

/** The offline document of a presentity (no publication, or a neutral view). */
export function offlinePidf(aor: string): string {
  return `<?xml version="1.0" encoding="UTF-8"?>\n<presence xmlns="${PIDF_NS}" entity="pres:${escapeXml(aor)}"><tuple id="offline"><status><basic>closed</basic></status></tuple></presence>\n`;
}

/**
 * One document of all the publications of `aor` (given oldest first, by
 * their last change), by the policy above, ids kept unique.
 */
export function composePidf(aor: string, publications: readonly string[]): string {
  const open: string[] = [];
  const other: string[] = [];
  const rest: string[] = [];
  let person: string[] | undefined;
  const ids = new Set<string>();
  // Newest first: its ids stay as published, older clashing ones get a suffix.
  for (let n = publications.length - 1; n >= 0; n--) {
    const p = parseXml(publications[n]!);
    if (!p.ok) continue;
    const persons: string[] = [];
    for (const el of childElements(p.doc.documentElement!)) {
      const isPerson = el.namespaceURI === DATA_MODEL_NS && el.localName === "person";
      if (isPerson && person) continue;
      const id = el.getAttribute("id");
      if (id) {
        let unique = id;
        for (let k = publications.length - n + 1; ids.has(unique); k++) unique = `${id}-${k}`;
        ids.add(unique);
        if (unique !== id) el.setAttribute("id", unique);
      }
      // The serializer declares the namespaces each element and its descendants use.
      const text = serialize(el);
      if (isPerson) persons.push(text);
      else if (el.namespaceURI === PIDF_NS && el.localName === "tuple") (basicOf(el) === "open" ? open : other).push(text);
      else rest.push(text);
    }
    if (persons.length > 0) person = persons;
  }
  const parts = [...open, ...other, ...(person ?? []), ...rest];
  if (parts.length === 0) return offlinePidf(aor);
  return `<?xml version="1.0" encoding="UTF-8"?>\n<presence xmlns="${PIDF_NS}" entity="pres:${escapeXml(aor)}">${parts.join("")}</presence>\n`;
}

function basicOf(tuple: Element): string | undefined {
  const status = childElements(tuple).find((c) => c.namespaceURI === PIDF_NS && c.localName === "status");
  const basic = status ? childElements(status).find((c) => c.namespaceURI === PIDF_NS && c.localName === "basic") : undefined;
  return basic ? textOf(basic).trim() : undefined;
}
