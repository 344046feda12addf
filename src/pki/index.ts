/**
 * pki/ — floor 1. The operator PKI (CA, member certificates, CRL as files
 * readable by openssl), TLS identities for mutual TLS, passports and peer
 * authorization. Imports only base/.
 */
export {
  initCa,
  issueCertificate,
  revokeCertificate,
  writeCrl,
  listCertificates,
  readIndex,
  readCrlInfo,
  type CrlInfo,
  type InitCaOptions,
  type IssueOptions,
  type IssuedCertificate,
  type IndexEntry,
  type CertificateStatus,
} from "./ca.js";
export { parsePassport, matchPassport, matchAnyPassport, matchPattern, formatSubject, type Passport } from "./passport.js";
export { TlsIdentity, ConnectionGuard, peerIdentity, authorizePeer, roleAllowed, type TlsPaths, type PeerIdentity, type PeerVerdict } from "./identity.js";
export { MemberLink, canonicalIp, ipAllowed, type MemberLinkOptions, type DialOptions, type RefusalEvent } from "./member-link.js";
export { createSecret, listSecrets, retireSecret, loadSecrets, readSecretFile, watchSecrets, secretsDir, SECRET_BYTES, DEFAULT_SECRET_ACTIVATION_MS, type SecretInfo } from "./secrets.js";
export { crlChannel } from "./diagnostics.js";
export { PkiError, PkiExistsError, PkiNotFoundError, PassportError, PkiInvalidError } from "./errors.js";
export {
  DEFAULT_CA_COMMON_NAME,
  DEFAULT_ORG,
  DEFAULT_OU,
  DEFAULT_ROLES,
  DEFAULT_CA_DAYS,
  DEFAULT_CERT_DAYS,
  DEFAULT_CRL_DAYS,
  DEFAULT_CRL_POLL_MS,
  DEFAULT_SECRET_POLL_MS,
  ROLE_URI_PREFIX,
  CERT_NAME,
  CERT_ROLE,
} from "./options.js";
