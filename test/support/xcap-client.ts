/**
 * A small HTTP client for XCAP tests: plain node:http requests that answer
 * a digest challenge (RFC 7616, qop=auth) the way an XCAP client does, so
 * tests speak to the server exactly as a phone would.
 */
import http from "node:http";
import { randomBytes } from "node:crypto";
import { computeHa1, digestResponse, type DigestAlgorithm } from "../../src/sip/index.js";

export interface XcapAnswer {
  status: number;
  headers: http.IncomingHttpHeaders;
  /** Every WWW-Authenticate value, one per challenge. */
  challenges: string[];
  body: string;
}

export interface XcapCall {
  method: string;
  /** Full URL. */
  url: string;
  body?: string | Buffer;
  contentType?: string;
  headers?: Record<string, string>;
  /** Answer a digest challenge with these credentials. */
  user?: { username: string; password: string; algorithm?: DigestAlgorithm };
  /** Send this Authorization header as is (no challenge round). */
  authorization?: string;
}

export function rawRequest(c: XcapCall, authorization?: string): Promise<XcapAnswer> {
  const u = new URL(c.url);
  const body = c.body === undefined ? undefined : Buffer.isBuffer(c.body) ? c.body : Buffer.from(c.body);
  const headers: Record<string, string> = { ...(c.headers ?? {}) };
  if (c.contentType) headers["content-type"] = c.contentType;
  if (body) headers["content-length"] = String(body.length);
  const auth = authorization ?? c.authorization;
  if (auth) headers["authorization"] = auth;
  return new Promise((resolve, reject) => {
    const req = http.request({ host: u.hostname, port: u.port, method: c.method, path: `${u.pathname}${u.search}`, headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (d: Buffer) => chunks.push(d));
      res.on("end", () => {
        const challenges: string[] = [];
        for (let i = 0; i < res.rawHeaders.length; i += 2) if (res.rawHeaders[i]!.toLowerCase() === "www-authenticate") challenges.push(res.rawHeaders[i + 1]!);
        resolve({ status: res.statusCode ?? 0, headers: res.headers, challenges, body: Buffer.concat(chunks).toString("utf8") });
      });
      res.on("error", reject);
    });
    req.setTimeout(10_000, () => req.destroy(new Error("XCAP request timed out")));
    req.on("error", reject);
    req.end(body);
  });
}

function param(challenge: string, name: string): string | undefined {
  return new RegExp(`${name}="?([^",]+)"?`, "i").exec(challenge)?.[1];
}

/** The Authorization header answering `challenge` for this request. */
export function digestAuthorization(challenge: string, method: string, target: string, user: { username: string; password: string }, nc = 1, uri = target): string {
  const realm = param(challenge, "realm")!;
  const nonce = param(challenge, "nonce")!;
  const algorithm = (param(challenge, "algorithm") ?? "MD5").toUpperCase() as DigestAlgorithm;
  const cnonce = randomBytes(8).toString("hex");
  const ncText = nc.toString(16).padStart(8, "0");
  const response = digestResponse(algorithm, computeHa1(algorithm, user.username, realm, user.password), nonce, method, uri, { qop: "auth", nc: ncText, cnonce });
  return `Digest username="${user.username}", realm="${realm}", nonce="${nonce}", uri="${uri}", algorithm=${algorithm}, qop=auth, nc=${ncText}, cnonce="${cnonce}", response="${response}"`;
}

/** One XCAP request; a 401 is answered once with the user's credentials. */
export async function xcap(c: XcapCall): Promise<XcapAnswer> {
  const first = await rawRequest(c);
  if (first.status !== 401 || !c.user) return first;
  const alg = c.user.algorithm ?? "MD5";
  const challenge = first.challenges.find((h) => new RegExp(`algorithm=${alg}\\b`, "i").test(h)) ?? first.challenges[0];
  if (!challenge) return first;
  const u = new URL(c.url);
  return rawRequest(c, digestAuthorization(challenge, c.method, `${u.pathname}${u.search}`, c.user));
}
