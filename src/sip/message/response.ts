/**
 * Building responses to requests (RFC 3261 8.2.6): Via, From, To, Call-ID
 * and CSeq copied from the request, a To tag added when the request had
 * none (except for 100), and a Content-Length of 0.
 */
import { SipResponse, type Header } from "./message.js";
import { headerKey } from "./header-names.js";
import { randomHex } from "./random.js";

const REASONS: Record<number, string> = {
  100: "Trying",
  180: "Ringing",
  181: "Call Is Being Forwarded",
  182: "Queued",
  183: "Session Progress",
  200: "OK",
  202: "Accepted",
  301: "Moved Permanently",
  302: "Moved Temporarily",
  400: "Bad Request",
  401: "Unauthorized",
  403: "Forbidden",
  404: "Not Found",
  405: "Method Not Allowed",
  407: "Proxy Authentication Required",
  408: "Request Timeout",
  413: "Request Entity Too Large",
  414: "Request-URI Too Long",
  415: "Unsupported Media Type",
  416: "Unsupported URI Scheme",
  420: "Bad Extension",
  423: "Interval Too Brief",
  429: "Too Many Requests",
  480: "Temporarily Unavailable",
  481: "Call/Transaction Does Not Exist",
  482: "Loop Detected",
  483: "Too Many Hops",
  484: "Address Incomplete",
  486: "Busy Here",
  487: "Request Terminated",
  488: "Not Acceptable Here",
  500: "Server Internal Error",
  501: "Not Implemented",
  502: "Bad Gateway",
  503: "Service Unavailable",
  504: "Server Time-out",
  505: "Version Not Supported",
  513: "Message Too Large",
  600: "Busy Everywhere",
  603: "Decline",
  604: "Does Not Exist Anywhere",
  606: "Not Acceptable",
};

export function reasonPhrase(status: number): string {
  return REASONS[status] ?? (status < 200 ? "Provisional" : status < 300 ? "OK" : status < 400 ? "Redirect" : status < 500 ? "Client Error" : status < 600 ? "Server Error" : "Global Failure");
}

export function newTag(): string {
  return randomHex(6);
}

/** A request as far as needed to answer it (a parsed request, or what a failed parse kept). */
export interface Answerable {
  headers: readonly Header[];
}

export function createResponse(req: Answerable, status: number, reason = reasonPhrase(status), extra: Array<[string, string]> = [], toTag?: string): SipResponse {
  const headers: Header[] = [];
  for (const h of req.headers) {
    if (h.key === "via" || h.key === "from" || h.key === "call-id" || h.key === "cseq" || (h.key === "record-route" && status >= 180 && status < 300)) {
      headers.push({ ...h });
    } else if (h.key === "to") {
      let value = h.value;
      if (status > 100 && !/;\s*tag\s*=/i.test(value)) value = `${value};tag=${toTag ?? newTag()}`;
      headers.push({ ...h, value });
    }
  }
  for (const [name, value] of extra) headers.push({ name, key: headerKey(name), value });
  return new SipResponse(status, reason.replace(/[\r\n]+/g, " "), headers, Buffer.alloc(0));
}
