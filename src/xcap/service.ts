/**
 * The XCAP service: the operations of `operations.ts` over documents kept
 * in the central database, with entity tags and conditional requests
 * (RFC 4825 7.10-7.11, RFC 7232), size and count limits, and a change
 * callback after every committed write. Transport-free: the HTTP server
 * (or a test) hands it parsed requests.
 */
import { randomBytes, createHash } from "node:crypto";
import { describeError, ThorError } from "../base/index.js";
import { constraintKind, deleteXcapDocument, getXcapDocument, insertXcapDocument, replaceXcapDocument, xcapUsage, type Executor, type XcapDocumentKey, type XcapDocumentRecord } from "../db/index.js";
import { xcapChangeChannel } from "./diagnostics.js";
import { XcapConflictError, XcapError, XcapMediaTypeError, XcapMethodError, XcapNotFoundError, XcapPreconditionError, XcapTooLargeError, XcapUnavailableError } from "./errors.js";
import { checkDocument, deleteNode, parseSelector, putNode, readNode } from "./operations.js";
import { DEFAULT_WRITE_ATTEMPTS, DEFAULT_XCAP_LIMITS, type XcapLimits } from "./options.js";
import type { XcapUri } from "./uri-codec.js";
import { usageOf, XCAP_CAPS_AUID, xcapCapsDocument, type ApplicationUsage } from "./usages.js";

/** Where documents are kept (a `DatabaseCluster` fits: writes on the primary, reads with fallback). */
export interface DocumentSource {
  read<T>(fn: (db: Executor) => Promise<T>): Promise<T>;
  write<T>(fn: (trx: Executor) => Promise<T>): Promise<T>;
}

/** A committed change of one document. */
export interface XcapChange {
  /** The owner, `user@domain`. */
  aor: string;
  xui: string;
  auid: string;
  document: string;
  /** The new entity tag; null when the document was deleted. */
  etag: string | null;
  /** The tag before the write; null when the document was created (xcap-diff, RFC 5875). */
  previousEtag?: string | null;
  /** The XCAP root URI of the server that took the write (`http://host:port/xcap-root`). */
  root?: string;
}

export interface XcapServiceOptions {
  source: DocumentSource;
  limits?: Partial<XcapLimits>;
  /** Called after each committed change. */
  onChange?: (change: XcapChange) => void;
}

export interface XcapRequest {
  method: string;
  uri: XcapUri;
  body?: Buffer;
  /** The Content-Type header as sent. */
  contentType?: string;
  ifMatch?: string;
  ifNoneMatch?: string;
}

export interface XcapResponse {
  status: number;
  contentType?: string;
  body?: string;
  /** Entity tag of the document after the request (unquoted). */
  etag?: string;
}

const utf8 = new TextDecoder("utf-8", { fatal: true });
const CAPS = xcapCapsDocument();
const CAPS_ETAG = createHash("sha256").update(CAPS).digest("base64url").slice(0, 16);

/** The media type without parameters, lower-cased. */
export function mediaType(header: string | undefined): string {
  return (header ?? "").split(";")[0]!.trim().toLowerCase();
}

/** Whether an If-Match / If-None-Match list names `etag` (`*` names any existing one). */
function listMatches(header: string, etag: string | undefined, weak: boolean): boolean {
  if (etag === undefined) return false;
  if (header.trim() === "*") return true;
  for (let t of header.split(",")) {
    t = t.trim();
    if (t.startsWith("W/")) {
      if (!weak) continue;
      t = t.slice(2);
    }
    if (t === `"${etag}"`) return true;
  }
  return false;
}

export class XcapService {
  private readonly limits: XcapLimits;

  constructor(private readonly opts: XcapServiceOptions) {
    this.limits = { ...DEFAULT_XCAP_LIMITS, ...opts.limits };
  }

  async handle(req: XcapRequest): Promise<XcapResponse> {
    const { uri } = req;
    const usage = usageOf(uri.auid);
    if (!usage) throw new XcapNotFoundError(`no application usage "${uri.auid}"`);
    if (usage.auid === XCAP_CAPS_AUID) return this.caps(req);
    if (uri.scope !== "users" || !uri.xui || !uri.aor) throw new XcapNotFoundError(`${usage.auid} has no global documents`);
    const key: XcapDocumentKey = { auid: usage.auid, xui: uri.xui, name: uri.document };
    try {
      if (req.method === "GET" || req.method === "HEAD") return await this.get(req, usage, key);
      if (req.method === "PUT") return await this.put(req, usage, key, uri.aor);
      if (req.method === "DELETE") return await this.delete(req, usage, key, uri.aor);
    } catch (err) {
      throw this.mapError(err, uri);
    }
    throw new XcapMethodError(`${req.method} is not an XCAP method (GET, PUT, DELETE)`);
  }

  private caps(req: XcapRequest): XcapResponse {
    if (req.uri.scope !== "global" || req.uri.document !== "index" || req.uri.selector !== undefined) throw new XcapNotFoundError("xcap-caps has one document: global/index");
    if (req.method !== "GET" && req.method !== "HEAD") throw new XcapMethodError("xcap-caps is read-only");
    if (req.ifNoneMatch && listMatches(req.ifNoneMatch, CAPS_ETAG, true)) return { status: 304, etag: CAPS_ETAG };
    return { status: 200, contentType: "application/xcap-caps+xml", body: CAPS, etag: CAPS_ETAG };
  }

  private async get(req: XcapRequest, usage: ApplicationUsage, key: XcapDocumentKey): Promise<XcapResponse> {
    const sel = req.uri.selector !== undefined ? parseSelector(req.uri.selector, req.uri.namespaces, usage) : undefined;
    const doc = await this.opts.source.read((db) => getXcapDocument(db, key));
    if (!doc) throw new XcapNotFoundError(`no document ${key.auid}/users/${key.xui}/${key.name}`);
    if (req.ifMatch && !listMatches(req.ifMatch, doc.etag, false)) throw new XcapPreconditionError("If-Match does not match the document's entity tag");
    if (req.ifNoneMatch && listMatches(req.ifNoneMatch, doc.etag, true)) return { status: 304, etag: doc.etag };
    if (!sel) return { status: 200, contentType: usage.mimeType, body: doc.doc, etag: doc.etag };
    const r = readNode(doc.doc, sel);
    return { status: 200, contentType: r.contentType, body: r.body, etag: doc.etag };
  }

  private checkPreconditions(req: XcapRequest, current: XcapDocumentRecord | undefined): void {
    if (req.ifMatch !== undefined && !listMatches(req.ifMatch, current?.etag, false)) throw new XcapPreconditionError(current ? "If-Match does not match the document's entity tag" : "If-Match: the document does not exist");
    if (req.ifNoneMatch !== undefined && listMatches(req.ifNoneMatch, current?.etag, false)) throw new XcapPreconditionError("If-None-Match: the document exists with that entity tag");
  }

  private async put(req: XcapRequest, usage: ApplicationUsage, key: XcapDocumentKey, aor: string): Promise<XcapResponse> {
    if (usage.readOnly) throw new XcapMethodError(`${usage.auid} is read-only`);
    const raw = req.body ?? Buffer.alloc(0);
    if (raw.length > this.limits.maxDocumentBytes) throw new XcapTooLargeError(`the body is over ${this.limits.maxDocumentBytes} bytes`);
    let body: string;
    try {
      body = utf8.decode(raw);
    } catch {
      throw new XcapConflictError({ tag: "not-utf-8", phrase: "the body is not UTF-8" });
    }
    const sel = req.uri.selector !== undefined ? parseSelector(req.uri.selector, req.uri.namespaces, usage) : undefined;
    const type = mediaType(req.contentType);
    if (!sel) {
      if (type !== usage.mimeType) throw new XcapMediaTypeError(`a ${usage.auid} document is written as ${usage.mimeType}`);
      checkDocument(body, usage);
    }
    const result = await this.writeLoop(key, async (trx, current) => {
      this.checkPreconditions(req, current);
      let text: string;
      let created: boolean;
      if (sel) {
        if (!current) throw new XcapNotFoundError(`no document ${key.auid}/users/${key.xui}/${key.name} to put an element or attribute into`);
        ({ text, created } = putNode(current.doc, usage, sel, body, type));
      } else {
        text = body;
        created = current === undefined;
      }
      if (Buffer.byteLength(text) > this.limits.maxDocumentBytes) throw new XcapTooLargeError(`the document would be over ${this.limits.maxDocumentBytes} bytes`);
      const etag = randomBytes(12).toString("base64url");
      if (!current) {
        const used = await xcapUsage(trx, key.xui);
        if (used.documents >= this.limits.maxDocumentsPerUser) throw new XcapConflictError({ tag: "constraint-failure", phrase: `a user holds at most ${this.limits.maxDocumentsPerUser} documents` });
        await insertXcapDocument(trx, key, text, etag);
        return { etag, created, previous: null };
      }
      return (await replaceXcapDocument(trx, key, text, etag, current.etag)) ? { etag, created, previous: current.etag } : undefined;
    });
    this.changed(aor, key, result.etag, result.previous);
    return { status: result.created ? 201 : 200, etag: result.etag };
  }

  private async delete(req: XcapRequest, usage: ApplicationUsage, key: XcapDocumentKey, aor: string): Promise<XcapResponse> {
    if (usage.readOnly) throw new XcapMethodError(`${usage.auid} is read-only`);
    const sel = req.uri.selector !== undefined ? parseSelector(req.uri.selector, req.uri.namespaces, usage) : undefined;
    const result = await this.writeLoop(key, async (trx, current) => {
      if (!current) throw new XcapNotFoundError(`no document ${key.auid}/users/${key.xui}/${key.name}`);
      this.checkPreconditions(req, current);
      if (!sel) return (await deleteXcapDocument(trx, key, current.etag)) ? { etag: null, previous: current.etag } : undefined;
      const text = deleteNode(current.doc, usage, sel);
      const etag = randomBytes(12).toString("base64url");
      return (await replaceXcapDocument(trx, key, text, etag, current.etag)) ? { etag, previous: current.etag } : undefined;
    });
    this.changed(aor, key, result.etag, result.previous);
    return { status: 200, ...(result.etag ? { etag: result.etag } : {}) };
  }

  /**
   * Read the document and apply `step` in one transaction; `step` answers
   * undefined when the document changed underneath (another server's
   * write moved its tag), and the whole read-modify-write runs again.
   */
  private async writeLoop<T>(key: XcapDocumentKey, step: (trx: Executor, current: XcapDocumentRecord | undefined) => Promise<T | undefined>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        const r = await this.opts.source.write(async (trx) => step(trx, await getXcapDocument(trx, key)));
        if (r !== undefined) return r;
      } catch (err) {
        if (constraintKind(err) !== "unique") throw err;
      }
      if (attempt >= DEFAULT_WRITE_ATTEMPTS) throw new XcapUnavailableError("the document kept changing underneath this write: try again");
    }
  }

  private changed(aor: string, key: XcapDocumentKey, etag: string | null, previousEtag: string | null): void {
    xcapChangeChannel.publish({ auid: key.auid, xui: key.xui, document: key.name, deleted: etag === null });
    this.opts.onChange?.({ aor, xui: key.xui, auid: key.auid, document: key.name, etag, previousEtag });
  }

  private mapError(err: unknown, uri: XcapUri): unknown {
    if (err instanceof XcapConflictError && err.conflict?.tag === "no-parent") {
      const c = err.conflict;
      c.ancestor = c.ancestor ? `${uri.documentPath}/~~/${c.ancestor}` : uri.documentPath;
      return err;
    }
    if (err instanceof XcapError) return err;
    if (err instanceof ThorError && /^THOR_DB_/.test(err.code)) return new XcapUnavailableError(`database: ${describeError(err)}`, { cause: err });
    return err;
  }
}
