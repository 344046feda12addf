/** The XCAP root path of every URI. @default "/xcap-root" */
export const DEFAULT_XCAP_ROOT = "/xcap-root";
/** HTTP port of the `xcap_server` role. @default 9290 */
export const DEFAULT_XCAP_PORT = 9290;
/** Largest document (bytes of UTF-8), after any change. @default 65536 */
export const DEFAULT_MAX_DOCUMENT_BYTES = 65_536;
/** Documents one user may hold over all application usages. @default 32 */
export const DEFAULT_MAX_DOCUMENTS_PER_USER = 32;
/** Attempts of a write whose document changed underneath it (another server wrote it). @default 3 */
export const DEFAULT_WRITE_ATTEMPTS = 3;
/** Requests may take this long from the first byte to the answer. @default 10000 */
export const DEFAULT_REQUEST_TIMEOUT_MS = 10_000;

export interface XcapLimits {
  /** @default DEFAULT_MAX_DOCUMENT_BYTES */
  maxDocumentBytes: number;
  /** @default DEFAULT_MAX_DOCUMENTS_PER_USER */
  maxDocumentsPerUser: number;
}

export const DEFAULT_XCAP_LIMITS: XcapLimits = { maxDocumentBytes: DEFAULT_MAX_DOCUMENT_BYTES, maxDocumentsPerUser: DEFAULT_MAX_DOCUMENTS_PER_USER };
