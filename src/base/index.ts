/**
 * base/ — floor 0. Shared kit with no domain knowledge: clock, errors, logger
 * contract, diagnostics channels, async helpers. Imports nothing from src/.
 */
export { type Clock, type TimerHandle, SystemClock, ManualClock, systemClock } from "./clock.js";
export { ThorError, defineError, describeError } from "./errors.js";
export { type Logger, type LogFn, silentLogger } from "./logger.js";
export { redactUri } from "./redact.js";
export { type Channel, channel, subscribe } from "./diagnostics.js";
export { sleep, backoffDelay, deferred, type Deferred } from "./async.js";
export { turnWriter } from "./turn-writer.js";
export {
  parseXml,
  serialize,
  isElement,
  childElements,
  children,
  textOf,
  isIgnorable,
  depthOf,
  namespacesInScope,
  escapeXml,
  markupCount,
  MAX_XML_MARKUP,
  type XmlParse,
  type Document,
  type Element,
  type Node,
} from "./xml.js";
export { KeyRing, TAG_BYTES, KEY_ID, type SigningKey } from "./keyring.js";
export { loadSocketsAddon, type SocketsAddon, type UdpHandle } from "./native-sockets.js";
