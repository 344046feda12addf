/**
 * Caps on what one SIP message may hold, checked by the parser while it
 * reads the header lines, so that no message costs more than a bounded
 * amount of work whatever its shape (RFC 3261 leaves these to the
 * implementation; Kamailio and OpenSIPS cap Via and Route lists the same
 * way). A message over a cap is refused as a whole: a request gets
 * 513 Message Too Large with the cap named in the reason phrase, a
 * response is dropped.
 */
export interface MessageLimits {
  /** Header lines (after unfolding) in one message. @default 256 */
  maxHeaders: number;
  /** Via entries, over all Via lines. @default 64 */
  maxVia: number;
  /** Route entries. @default 32 */
  maxRoute: number;
  /** Record-Route entries. @default 32 */
  maxRecordRoute: number;
  /** Contact entries. @default 32 */
  maxContact: number;
  /** Path entries (RFC 3327). @default 32 */
  maxPath: number;
}

export const DEFAULT_MESSAGE_LIMITS: Readonly<MessageLimits> = Object.freeze({
  maxHeaders: 256,
  maxVia: 64,
  maxRoute: 32,
  maxRecordRoute: 32,
  maxContact: 32,
  maxPath: 32,
});

/**
 * How many comma-separated entries a list header value holds: top-level
 * commas (outside quotes and angle brackets) plus one. One pass over the
 * text, no allocation.
 */
export function countEntries(value: string): number {
  if (value.indexOf(",") < 0) return 1;
  let n = 1;
  let inQuote = false;
  let angle = 0;
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (inQuote) {
      if (c === 0x5c) i++;
      else if (c === 0x22) inQuote = false;
    } else if (c === 0x22) inQuote = true;
    else if (c === 0x3c) angle++;
    else if (c === 0x3e) angle = angle > 0 ? angle - 1 : 0;
    else if (c === 0x2c && angle === 0) n++;
  }
  return n;
}
