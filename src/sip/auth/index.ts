/** sip/auth — digest authentication (RFC 3261 22, RFC 8760). */
export { DigestAuthenticator, parseDigest, computeHa1, digestResponse, type DigestAlgorithm, type Credentials, type CredentialStore, type AsyncCredentialStore, type DigestResponse, type DigestVerdict, type DigestOptions, type DigestTarget, DEFAULT_NONCE_TTL_MS } from "./digest.js";
export { MemoryCredentialStore } from "./memory-store.js";
export { CredentialsUnavailableError } from "./unavailable.js";
export { DigestAuthentication, type AuthenticationOptions } from "./authentication.js";
