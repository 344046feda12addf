/**
 * xcap/ — floor 2. The XCAP server (RFC 4825): URIs and node selectors
 * (sans-IO), the application usages pres-rules (RFC 5025), resource-lists
 * and rls-services (RFC 4826), pidf-manipulation (RFC 4827) and xcap-caps,
 * the document operations, the service over the central database and its
 * HTTP server (fastify). Imports base/ and db/.
 */
export { XcapServer, type XcapServerOptions } from "./server.js";
export { XcapService, mediaType, type XcapServiceOptions, type XcapRequest, type XcapResponse, type XcapChange, type DocumentSource } from "./service.js";
export type { XcapAuthenticator, XcapAuthRequest, XcapAuthResult, XcapPrincipal } from "./auth.js";
export { parseXcapUri, parseXmlnsQuery, canonicalXui, type XcapUri, type XcapUriParse } from "./uri-codec.js";
export { parseNodeSelector, selectElements, type NodeSelector, type SelectorParse, type Step, type ExpandedName } from "./node-selector.js";
export { APPLICATION_USAGES, NS as XCAP_NAMESPACES, usageOf, validateDocument, xcapCapsDocument, type ApplicationUsage } from "./usages.js";
export { MIME_ELEMENT, MIME_ATTRIBUTE, MIME_NAMESPACES, MIME_ERROR } from "./operations.js";
export {
  XcapError,
  XcapConflictError,
  XcapNotFoundError,
  XcapBadRequestError,
  XcapUnauthorizedError,
  XcapForbiddenError,
  XcapMethodError,
  XcapMediaTypeError,
  XcapPreconditionError,
  XcapTooLargeError,
  XcapUnavailableError,
  conflictBody,
  XCAP_ERROR_NS,
  type XcapConflict,
} from "./errors.js";
export { xcapRequestChannel, xcapChangeChannel } from "./diagnostics.js";
export {
  DEFAULT_XCAP_ROOT,
  DEFAULT_XCAP_PORT,
  DEFAULT_MAX_DOCUMENT_BYTES,
  DEFAULT_MAX_DOCUMENTS_PER_USER,
  DEFAULT_WRITE_ATTEMPTS,
  DEFAULT_REQUEST_TIMEOUT_MS,
  DEFAULT_XCAP_LIMITS,
  type XcapLimits,
} from "./options.js";
