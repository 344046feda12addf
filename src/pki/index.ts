/**
 * pki/ — floor 1. The operator PKI (CA, member certificates, CRL as files),
 * TLS identities for mutual TLS, passports and peer authorization.
 * Imports only base/.
 */
export { initCa, issueCertificate, revokeCertificate, writeCrl, listCertificates, readIndex, type InitCaOptions, type IssueOptions, type IndexEntry, type CertificateStatus } from "./ca.js";
export { parsePassport, matchPassport, matchAnyPassport, matchPattern, formatSubject, type Passport } from "./passport.js";
export { TlsIdentity, ConnectionGuard, peerIdentity, authorizePeer, roleAllowed, type TlsPaths, type PeerIdentity, type PeerVerdict } from "./identity.js";
export { PkiExistsError, PkiNotFoundError, PassportError, PkiInvalidError } from "./errors.js";
export { DEFAULT_CA_DAYS, DEFAULT_CERT_DAYS, DEFAULT_CRL_DAYS, DEFAULT_CRL_POLL_MS, ROLE_URI_PREFIX } from "./options.js";
