/**
 * The contract between the XCAP server and whoever checks credentials. The
 * composition root provides it (HTTP digest against the provisioned
 * accounts, operator tokens); the server only asks it and applies the
 * rule that a user reaches only their own documents.
 */

/** Who a request is from. */
export type XcapPrincipal = { kind: "user"; aor: string } | { kind: "operator"; name: string; write: boolean };

export interface XcapAuthRequest {
  method: string;
  /** The request target as sent (path and query): a digest `uri` must name it. */
  target: string;
  /** The Authorization header, if any. */
  authorization: string | undefined;
  /** The realm to challenge with: the domain of the user whose documents are asked for. */
  realm: string;
}

export type XcapAuthResult = { ok: true; principal: XcapPrincipal } | { ok: false; status: 401 | 403; reason: string; challenges: string[] };

export interface XcapAuthenticator {
  authenticate(req: XcapAuthRequest): Promise<XcapAuthResult>;
}
