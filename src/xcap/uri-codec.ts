/**
 * XCAP URIs (RFC 4825 6), sans-IO:
 *
 * ```
 * XCAP-URI  = XCAP-root "/" auid "/" ("global" / "users" "/" XUI) "/" doc-path ["/~~/" node-selector] ["?" query]
 * query     = *( "xmlns(" prefix "=" namespace ")" )
 * ```
 *
 * The document path is decoded per segment; the node selector as a whole
 * (it may quote a "/"). XUIs are canonicalised to `sip:user@domain`
 * (domain lower-cased, a bare `user@domain` accepted), so one user has one
 * folder. Nothing here throws.
 */

export interface XcapUri {
  auid: string;
  scope: "users" | "global";
  /** Canonical XUI (`sip:alice@example.com`), for `users`. */
  xui?: string;
  /** `alice@example.com`, for `users`. */
  aor?: string;
  /** Document path below the user's (or the global) folder, decoded. */
  document: string;
  /** The node selector, percent-decoded. */
  selector?: string;
  /** Prefixes bound by the query's `xmlns()` expressions. */
  namespaces: Map<string, string>;
  /** The document's URI path (root included), for error bodies. */
  documentPath: string;
}

export type XcapUriParse = { ok: true; uri: XcapUri } | { ok: false; status: 400 | 404; reason: string };

/** Bounds of URI parts. */
export const MAX_XUI_LENGTH = 256;
export const MAX_DOCUMENT_PATH = 256;
export const MAX_DOCUMENT_DEPTH = 4;

const AUID = /^[a-z0-9][a-z0-9.+-]{0,63}$/;
const DOC_SEGMENT = /^[A-Za-z0-9._~+-]{1,128}$/;
const USER = /^[A-Za-z0-9_.!~*'()&=+$,;?/%-]{1,128}$/;
const DOMAIN = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/;

function decode(s: string): string | undefined {
  try {
    return decodeURIComponent(s);
  } catch {
    return undefined;
  }
}

/** `sip:user@domain` from an XUI as written in a URI (decoded), or undefined. */
export function canonicalXui(xui: string): { xui: string; aor: string } | undefined {
  if (xui.length === 0 || xui.length > MAX_XUI_LENGTH) return undefined;
  const bare = xui.replace(/^sips?:/i, "");
  const at = bare.lastIndexOf("@");
  if (at <= 0) return undefined;
  const user = bare.slice(0, at);
  const domain = bare.slice(at + 1).toLowerCase();
  if (!USER.test(user) || !DOMAIN.test(domain)) return undefined;
  return { xui: `sip:${user}@${domain}`, aor: `${user}@${domain}` };
}

/** Parse a request target (`/xcap-root/...?...`) below `root` (e.g. `/xcap-root`). */
export function parseXcapUri(target: string, root: string): XcapUriParse {
  const q = target.indexOf("?");
  const path = q < 0 ? target : target.slice(0, q);
  const query = q < 0 ? "" : target.slice(q + 1);
  const base = root.replace(/\/+$/, "");
  if (!path.startsWith(`${base}/`)) return { ok: false, status: 404, reason: `not below the XCAP root ${base}/` };
  const rest = path.slice(base.length + 1);
  const sep = rest.indexOf("/~~/");
  const docPart = sep < 0 ? rest : rest.slice(0, sep);
  const selRaw = sep < 0 ? undefined : rest.slice(sep + 4);
  const segs = docPart.split("/");
  const auid = segs[0] ?? "";
  if (!AUID.test(auid)) return { ok: false, status: 404, reason: `"${auid}" is not an application usage` };
  const scope = segs[1];
  let xui: { xui: string; aor: string } | undefined;
  let docSegs: string[];
  if (scope === "users") {
    const raw = decode(segs[2] ?? "");
    if (raw === undefined) return { ok: false, status: 400, reason: "bad percent-encoding in the XUI" };
    xui = canonicalXui(raw);
    if (!xui) return { ok: false, status: 404, reason: `"${raw.slice(0, 80)}" is not a user (write sip:user@domain)` };
    docSegs = segs.slice(3);
  } else if (scope === "global") docSegs = segs.slice(2);
  else return { ok: false, status: 404, reason: `expected "users" or "global" after the application usage` };
  if (docSegs.length === 0 || (docSegs.length === 1 && docSegs[0] === "")) return { ok: false, status: 404, reason: "no document named" };
  if (docSegs.length > MAX_DOCUMENT_DEPTH) return { ok: false, status: 404, reason: `document paths have at most ${MAX_DOCUMENT_DEPTH} segments` };
  const decoded: string[] = [];
  for (const s of docSegs) {
    const d = decode(s);
    if (d === undefined) return { ok: false, status: 400, reason: "bad percent-encoding in the document path" };
    if (!DOC_SEGMENT.test(d) || d === "." || d === "..") return { ok: false, status: 404, reason: `"${d.slice(0, 80)}" is not a valid document name segment` };
    decoded.push(d);
  }
  const document = decoded.join("/");
  if (document.length > MAX_DOCUMENT_PATH) return { ok: false, status: 404, reason: `document path longer than ${MAX_DOCUMENT_PATH}` };
  let selector: string | undefined;
  if (selRaw !== undefined) {
    selector = decode(selRaw);
    if (selector === undefined) return { ok: false, status: 400, reason: "bad percent-encoding in the node selector" };
  }
  const namespaces = parseXmlnsQuery(query);
  if (!namespaces) return { ok: false, status: 400, reason: 'bad query: write xmlns(prefix=namespace) for each prefix of the node selector' };
  return {
    ok: true,
    uri: {
      auid,
      scope,
      ...(xui ? { xui: xui.xui, aor: xui.aor } : {}),
      document,
      ...(selector !== undefined ? { selector } : {}),
      namespaces,
      documentPath: `${base}/${docPart}`,
    },
  };
}

/** `xmlns(p=urn:x)xmlns(q=urn:y)` (RFC 4825 6.4), percent-decoded first. */
export function parseXmlnsQuery(raw: string): Map<string, string> | undefined {
  const out = new Map<string, string>();
  if (raw === "") return out;
  const text = decode(raw.replace(/\+/g, "%20"));
  if (text === undefined || text.length > 4096) return undefined;
  const re = /\s*xmlns\(\s*([A-Za-z_][A-Za-z0-9._-]*)\s*=\s*([^)\s]+)\s*\)\s*/y;
  let pos = 0;
  while (pos < text.length) {
    re.lastIndex = pos;
    const m = re.exec(text);
    if (!m) return undefined;
    if (out.size >= 32) return undefined;
    out.set(m[1]!, m[2]!);
    pos = re.lastIndex;
  }
  return out;
}
