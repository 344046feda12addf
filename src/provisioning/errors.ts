import { ThorError } from "../base/index.js";

/**
 * Every error the API answers with, paired with its HTTP status (the
 * fastify way): the HTTP layer maps errors to answers in one place.
 */
export class ProvisioningError extends ThorError {
  constructor(
    code: string,
    readonly status: number,
    message: string,
    readonly details?: ReadonlyArray<{ path: string; message: string }>,
    options?: { cause?: unknown },
  ) {
    super(code, message, options);
  }
}

function define(code: string, status: number, name: string) {
  const cls = class extends ProvisioningError {
    constructor(message: string, details?: ReadonlyArray<{ path: string; message: string }>, options?: { cause?: unknown }) {
      super(code, status, message, details, options);
      this.name = name;
    }
  };
  Object.defineProperty(cls, "name", { value: name });
  return cls;
}

/** The body is not JSON. */
export const BadJsonError = define("THOR_PROVISIONING_BAD_JSON", 400, "BadJsonError");
/** The request has a body in another format than application/json. */
export const UnsupportedMediaError = define("THOR_PROVISIONING_MEDIA_TYPE", 415, "UnsupportedMediaError");
/** The body or query is JSON but breaks the schema (unknown fields, bad values). */
export const ValidationError = define("THOR_PROVISIONING_VALIDATION", 422, "ValidationError");
/** No token, or a token the server does not know. */
export const UnauthorizedError = define("THOR_PROVISIONING_UNAUTHORIZED", 401, "UnauthorizedError");
/** The token is valid but its scope does not allow this (a read token writing). */
export const ForbiddenError = define("THOR_PROVISIONING_FORBIDDEN", 403, "ForbiddenError");
/** No such entity, or no such route. */
export const NotFoundError = define("THOR_PROVISIONING_NOT_FOUND", 404, "NotFoundError");
/** The route exists but not with this method. */
export const MethodNotAllowedError = define("THOR_PROVISIONING_METHOD", 405, "MethodNotAllowedError");
/** The entity exists already (duplicate account, alias, domain, peer). */
export const ConflictError = define("THOR_PROVISIONING_CONFLICT", 409, "ConflictError");
/** The change names something that does not exist (unknown domain or account), or the entity is still used. */
export const UnknownReferenceError = define("THOR_PROVISIONING_REFERENCE", 422, "UnknownReferenceError");
/** Too many requests with a bad token from this source: try again after `Retry-After` seconds. */
export const TooManyRequestsError = define("THOR_PROVISIONING_THROTTLED", 429, "TooManyRequestsError");
/** The server's own settings cannot work safely (plain HTTP on a public address). */
export const UnsafeSettingsError = define("THOR_PROVISIONING_UNSAFE", 500, "UnsafeSettingsError");
/** The body is larger than the server accepts. */
export const PayloadTooLargeError = define("THOR_PROVISIONING_TOO_LARGE", 413, "PayloadTooLargeError");
/** The primary database is down: writes are refused (reads still work). */
export const ReadOnlyError = define("THOR_PROVISIONING_READ_ONLY", 503, "ReadOnlyError");
/** No database is reachable or announced. */
export const UnavailableError = define("THOR_PROVISIONING_UNAVAILABLE", 503, "UnavailableError");
/** A call of the API client failed: the answer's code, status and message are kept. */
export class ProvisioningApiError extends ThorError {
  constructor(
    code: string,
    readonly status: number,
    message: string,
    readonly details?: ReadonlyArray<{ path: string; message: string }>,
  ) {
    super(code, message);
    this.name = "ProvisioningApiError";
  }
}
