import { ThorError } from "../base/index.js";

/**
 * Base of every PKI error, so callers can catch "anything the PKI refused"
 * with one `instanceof PkiError` and still branch on the stable `code`.
 * (`defineError` from base/ builds direct ThorError subclasses; this folder
 * needs a shared base, so it has its own small factory with the same shape.)
 */
export class PkiError extends ThorError {}

function definePkiError(code: string, name: string): new (message: string, options?: { cause?: unknown }) => PkiError {
  const cls = class extends PkiError {
    constructor(message: string, options?: { cause?: unknown }) {
      super(code, message, options);
      this.name = name;
    }
  };
  Object.defineProperty(cls, "name", { value: name });
  return cls;
}

/** A CA or an unrevoked certificate of that name already exists (use force). */
export const PkiExistsError = definePkiError("THOR_PKI_EXISTS", "PkiExistsError");
/** No CA in the directory, or no certificate of that name. */
export const PkiNotFoundError = definePkiError("THOR_PKI_NOT_FOUND", "PkiNotFoundError");
/** A passport that is not `ATTR=pattern,...` with valid patterns. */
export const PassportError = definePkiError("THOR_PKI_PASSPORT", "PassportError");
/** Bad input (name, address, days, role) or an unreadable/corrupt PKI file. */
export const PkiInvalidError = definePkiError("THOR_PKI_INVALID", "PkiInvalidError");
