/** Defaults of the operator PKI. */

/** CA validity. @default 3650 days */
export const DEFAULT_CA_DAYS = 3650;
/** Member certificate validity. @default 825 days */
export const DEFAULT_CERT_DAYS = 825;
/** CRL `nextUpdate` distance. @default 30 days */
export const DEFAULT_CRL_DAYS = 30;
/** How often members poll `crl.pem` for changes. @default 1000 ms */
export const DEFAULT_CRL_POLL_MS = 1000;
/** Prefix of the SubjectAltName URIs naming the roles a certificate may announce. */
export const ROLE_URI_PREFIX = "urn:thor:role:";
