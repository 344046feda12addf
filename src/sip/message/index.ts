/**
 * sip/message — the SIP message layer, sans-IO: parser, stream framer,
 * serializer, URIs and the structured header values.
 */
export { SipMessage, SipRequest, SipResponse, type AnyMessage, type Header } from "./message.js";
export { parseMessage, findHeaderEnd, DEFAULT_MAX_MESSAGE, type ParseResult, type SipParseError, type ParseOptions } from "./parser.js";
export { DEFAULT_MESSAGE_LIMITS, countEntries, type MessageLimits } from "./limits.js";
export { StreamFramer, type FrameEvent } from "./stream-framer.js";
export { serializeMessage } from "./serializer.js";
export { parseUri, formatUri, aorOf, canonicalHost, type Uri, type SipUri, type OtherUri, type UriResult } from "./uri.js";
export { parseNameAddr, formatNameAddr, parseVia, formatVia, parseCSeq, parseUInt, splitList, isPort, isIpAddress, type NameAddr, type Via, type CSeq, type Result } from "./header-values.js";
export { headerKey, canonicalName, isListHeader } from "./header-names.js";
export { parseParams, formatParams, quote, unquote, splitTopLevel, isToken, ownCopy, type Params } from "./grammar.js";
export { createResponse, reasonPhrase, newTag, type Answerable } from "./response.js";
export { fillRandom, randomHex, randomBase64Url } from "./random.js";
