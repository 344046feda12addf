/**
 * Writing SIP messages: start line, the header lines as they are (a proxy
 * forwards untouched headers with their original spelling), a
 * Content-Length that always matches the body, the blank line and the body.
 */
import type { AnyMessage } from "./message.js";

export function serializeMessage(msg: AnyMessage): Buffer {
  let head = msg.isRequest ? `${msg.method} ${msg.uri} SIP/2.0\r\n` : `SIP/2.0 ${msg.status} ${msg.reason}\r\n`;
  for (const h of msg.headers) if (h.key !== "content-length") head += `${h.name}: ${h.value}\r\n`;
  head += `Content-Length: ${msg.body.length}\r\n\r\n`;
  if (msg.body.length === 0) return Buffer.from(head, "utf8");
  const headBuf = Buffer.from(head, "utf8");
  return Buffer.concat([headBuf, msg.body], headBuf.length + msg.body.length);
}
