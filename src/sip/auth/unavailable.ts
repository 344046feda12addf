/**
 * Thrown by an asynchronous credential store when it cannot say whether an
 * account exists (its holders did not answer, the store is not loaded yet).
 * The proxy answers 503 with Retry-After and never counts it as a failed
 * login: a refusal caused by the platform's own state is not the caller's.
 */
export class CredentialsUnavailableError extends Error {
  override readonly name = "CredentialsUnavailableError";
}
