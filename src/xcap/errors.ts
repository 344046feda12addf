import { escapeXml, ThorError } from "../base/index.js";

/** The namespace of `<xcap-error>` bodies (RFC 4825 11). */
export const XCAP_ERROR_NS = "urn:ietf:params:xml:ns:xcap-error";

/** The conflict reports of RFC 4825 11, each a child element of `<xcap-error>`. */
export type XcapConflict =
  | { tag: "not-well-formed" | "not-xml-frag" | "not-xml-att-value" | "cannot-insert" | "cannot-delete" | "not-utf-8" | "schema-validation-error" | "constraint-failure"; phrase?: string }
  | { tag: "no-parent"; phrase?: string; ancestor?: string }
  | { tag: "uniqueness-failure"; phrase?: string; exists: Array<{ field: string; altValues?: string[] }> };

/** The `application/xcap-error+xml` body of a conflict. */
export function conflictBody(c: XcapConflict): string {
  const phrase = c.phrase ? ` phrase="${escapeXml(c.phrase)}"` : "";
  let inner = "";
  if (c.tag === "no-parent" && c.ancestor) inner = `<ancestor>${escapeXml(c.ancestor)}</ancestor>`;
  if (c.tag === "uniqueness-failure")
    inner = c.exists.map((e) => `<exists field="${escapeXml(e.field)}">${(e.altValues ?? []).map((v) => `<alt-value>${escapeXml(v)}</alt-value>`).join("")}</exists>`).join("");
  const el = inner ? `<${c.tag}${phrase}>${inner}</${c.tag}>` : `<${c.tag}${phrase}/>`;
  return `<?xml version="1.0" encoding="UTF-8"?>\n<xcap-error xmlns="${XCAP_ERROR_NS}">${el}</xcap-error>\n`;
}

/**
 * Every answer that is not a success, with its HTTP status: the HTTP
 * layer maps them to responses in one place. A 409 carries the RFC 4825
 * conflict report.
 */
export class XcapError extends ThorError {
  constructor(
    code: string,
    readonly status: number,
    message: string,
    readonly conflict?: XcapConflict,
    options?: { cause?: unknown },
  ) {
    super(code, message, options);
  }
}

function define(code: string, status: number, name: string) {
  const cls = class extends XcapError {
    constructor(message: string, options?: { cause?: unknown }) {
      super(code, status, message, undefined, options);
      this.name = name;
    }
  };
  Object.defineProperty(cls, "name", { value: name });
  return cls;
}

/** The URI names no document, element or attribute (or a selector selects several). */
export const XcapNotFoundError = define("THOR_XCAP_NOT_FOUND", 404, "XcapNotFoundError");
/** The request is malformed (bad encoding, bad node selector syntax). */
export const XcapBadRequestError = define("THOR_XCAP_BAD_REQUEST", 400, "XcapBadRequestError");
/** No credentials, or credentials that do not check out. */
export const XcapUnauthorizedError = define("THOR_XCAP_UNAUTHORIZED", 401, "XcapUnauthorizedError");
/** Authenticated, but not for this user's documents (or a read token writing). */
export const XcapForbiddenError = define("THOR_XCAP_FORBIDDEN", 403, "XcapForbiddenError");
/** The method does not apply to the resource (writing xcap-caps or a namespace selector). */
export const XcapMethodError = define("THOR_XCAP_METHOD", 405, "XcapMethodError");
/** The body's Content-Type does not fit the resource. */
export const XcapMediaTypeError = define("THOR_XCAP_MEDIA_TYPE", 415, "XcapMediaTypeError");
/** If-Match / If-None-Match did not hold. */
export const XcapPreconditionError = define("THOR_XCAP_PRECONDITION", 412, "XcapPreconditionError");
/** The body, or the document it would make, is over the size limit. */
export const XcapTooLargeError = define("THOR_XCAP_TOO_LARGE", 413, "XcapTooLargeError");
/** No database reachable, or the primary is down for writes. */
export const XcapUnavailableError = define("THOR_XCAP_UNAVAILABLE", 503, "XcapUnavailableError");

/** A 409 with its RFC 4825 conflict report. */
export class XcapConflictError extends XcapError {
  constructor(conflict: XcapConflict, message?: string) {
    super("THOR_XCAP_CONFLICT", 409, message ?? conflict.phrase ?? conflict.tag, conflict);
    this.name = "XcapConflictError";
  }
}
