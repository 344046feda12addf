/**
 * Base error of the project. Every folder defines its own subclasses in its
 * `errors.ts` with a stable `code` (e.g. `THOR_PKI_REVOKED`), so callers branch
 * on codes, never on messages, and wire answers are mapped in one place.
 */
export class ThorError extends Error {
  readonly code: string;

  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
  }
}

/** A description of `err` suitable for a log line, whatever was thrown. */
export function describeError(err: unknown): string {
  if (err instanceof ThorError) return `${err.code}: ${err.message}`;
  if (err instanceof Error) {
    const code = (err as NodeJS.ErrnoException).code;
    return code ? `${code}: ${err.message}` : err.message;
  }
  return String(err);
}

/** Build one error class per row of a table, as `errors.ts` files do. */
export function defineError(code: string, name: string): new (message: string, options?: { cause?: unknown }) => ThorError {
  const cls = class extends ThorError {
    constructor(message: string, options?: { cause?: unknown }) {
      super(code, message, options);
      this.name = name;
    }
  };
  Object.defineProperty(cls, "name", { value: name });
  return cls;
}
