/** Defaults of the operator PKI. */

/** CA common name. @default "sipthor CA" */
export const DEFAULT_CA_COMMON_NAME = "sipthor CA";
/** Organization (O) of the CA and, by default, of the certificates it issues. @default "sipthor" */
export const DEFAULT_ORG = "sipthor";
/** Kind of member (OU) of an issued certificate. @default "node" */
export const DEFAULT_OU = "node";
/** Roles an issued certificate allows. @default ["*"] (any role) */
export const DEFAULT_ROLES: readonly string[] = ["*"];
/** CA validity. @default 3650 days */
export const DEFAULT_CA_DAYS = 3650;
/** Member certificate validity. @default 825 days */
export const DEFAULT_CERT_DAYS = 825;
/** CRL `nextUpdate` distance: re-sign (`thor ca crl`) before it passes, or every handshake fails with CRL_HAS_EXPIRED. @default 30 days */
export const DEFAULT_CRL_DAYS = 30;
/** How often members poll `crl.pem` for changes. @default 1000 ms */
export const DEFAULT_CRL_POLL_MS = 1000;
/** How often members re-read `<ca_dir>/secrets` for added or retired cluster secrets. @default 10000 ms */
export const DEFAULT_SECRET_POLL_MS = 10_000;
/** Prefix of the SubjectAltName URIs naming the roles a certificate may announce. */
export const ROLE_URI_PREFIX = "urn:thor:role:";
/** Valid certificate (member) names: the CN and the file name under `certs/`. */
export const CERT_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
/** Valid role names in certificates: `*` or a role name (as the overlay's role names). */
export const CERT_ROLE = /^(\*|[a-z][a-z0-9_]{0,31})$/;
