/**
 * The presence feature on the SIP core's request pipeline (request phase,
 * after the guard and digest authentication; docs/sip-core.md): it takes
 * the SUBSCRIBEs and PUBLISHes addressed to a user of a served domain,
 * checks them, hands them as data to the presentity's holder (the
 * {@link PresenceAgent}, here or one hop away), and answers; everything
 * else passes on untouched.
 *
 * - RFC 6665: Event required, unknown packages 489 with Allow-Events;
 *   Contact required; Expires checked (423 with Min-Expires comes from the
 *   notifier); the 200 carries our To tag, Expires and a Contact naming
 *   this node, so refreshes come back through the watcher's flow.
 * - RFC 3903: PUBLISH only for `presence`, only by the presentity itself
 *   (authenticated), SIP-If-Match / SIP-ETag, 412, 413, 415, 400 with the
 *   reason.
 * - The watcher's identity is the authenticated one (`sip:user@domain`);
 *   a watcher of a foreign domain cannot be authenticated here and is
 *   judged by its From (docs/presence.md).
 */
import { describeError, type Logger } from "../base/index.js";
import { aorOf, canonicalHost, LocationUnavailableError, LOCATION_RETRY_AFTER_S, parseNameAddr, parseUri, newTag, type Forward, type ForwardHandler, type Interceptor, type ProxyRequest, type TransportName } from "../sip/index.js";
import type { FirstNotify, PublishCall, PublishReply, SubscribeCall, SubscribeReply } from "./presence-wire.js";
import { parseXcapDiffResources, XCAP_DIFF_TYPE, type NotifyDialog } from "../presence/index.js";

/** What the interceptor needs of the presence agent. */
export interface PresenceRouter {
  readonly packages: readonly string[];
  routeSubscribe(call: SubscribeCall): Promise<SubscribeReply>;
  routePublish(call: PublishCall): Promise<PublishReply>;
  /** Send the immediate NOTIFY another holder answered for this edge. */
  sendFirstNotify(dialog: NotifyDialog, pkg: string, n: FirstNotify, expiresSec: number): void;
}

export interface PresenceInterceptorOptions {
  router: PresenceRouter;
  domains: readonly string[];
  /** This member's id (the edge holding the watcher's flow); absent on a node alone. */
  self?: string;
  /** Our public listener for a transport: the host and port of the Contact we answer with. */
  contactAddress(transport: TransportName): { host: string; port: number } | undefined;
  /** Largest PUBLISH body taken (413 above). */
  maxBody: number;
  logger: Logger;
}

const UINT = /^\d{1,10}$/;
const PIDF = "application/pidf+xml";
const WINFO = "application/watcherinfo+xml";
const RESOURCE_LISTS = "application/resource-lists+xml";

export class PresenceInterceptor implements Interceptor {
  readonly name = "presence";
  readonly stats = { subscribes: 0, publishes: 0, rejected: 0 };
  private readonly domains: ReadonlySet<string>;

  constructor(private readonly opts: PresenceInterceptorOptions) {
    this.domains = new Set(opts.domains.map(canonicalHost));
  }

  request(next: Forward): Forward {
    return (req, handler) => {
      const m = req.request.method;
      if ((m !== "SUBSCRIBE" && m !== "PUBLISH") || req.routing.hasRoute) return next(req, handler);
      const presentity = this.presentityOf(req);
      if (!presentity) return next(req, handler);
      const event = parseEvent(req.request.get("event"));
      // An in-dialog SUBSCRIBE of a package we do not serve belongs to someone else's dialog.
      if (event && !this.opts.router.packages.includes(event.pkg) && req.request.to?.params.get("tag") !== undefined) return next(req, handler);
      const work = m === "SUBSCRIBE" ? this.subscribe(req, handler, presentity, event) : this.publish(req, handler, presentity, event);
      work.catch((err: unknown) => {
        if (err instanceof LocationUnavailableError) return this.reply(req, handler, 503, "Service Unavailable (presence holders unreachable)", [["Retry-After", String(LOCATION_RETRY_AFTER_S)]]);
        this.opts.logger.error({ err: describeError(err), method: m }, "presence request failed");
        this.reply(req, handler, 500, "Server Internal Error");
      });
    };
  }

  /** The presentity: the Request-URI's user in a served domain, or, in a dialog we answered, the To. */
  private presentityOf(req: ProxyRequest): string | undefined {
    const r = req.request;
    const p = parseUri(r.uri);
    if (p.ok && p.uri.kind === "sip" && p.uri.user !== undefined && this.domains.has(canonicalHost(p.uri.host))) return aorOf(p.uri);
    const to = r.to;
    if (to?.params.get("tag") !== undefined && to.uri.kind === "sip" && to.uri.user !== undefined && this.domains.has(canonicalHost(to.uri.host))) return aorOf(to.uri);
    return undefined;
  }

  private reply(req: ProxyRequest, handler: ForwardHandler, status: number, reason: string, extra: Array<[string, string]> = []): void {
    if (status >= 300) this.stats.rejected++;
    req.reply(handler, status, reason, extra);
  }

  private allowEvents(): [string, string] {
    return ["Allow-Events", this.opts.router.packages.join(", ")];
  }

  private watcherOf(req: ProxyRequest): string | undefined {
    if (req.identity !== undefined) return `sip:${req.identity}`;
    const r = req.request;
    if (req.trusted) {
      const pai = r.get("p-asserted-identity");
      const na = pai ? parseNameAddr(pai) : undefined;
      if (na?.ok && na.value.uri.kind === "sip") return `sip:${aorOf(na.value.uri)}`;
    }
    const from = r.from?.uri;
    return from?.kind === "sip" && from.user !== undefined ? `sip:${aorOf(from)}` : undefined;
  }

  private async subscribe(req: ProxyRequest, handler: ForwardHandler, presentity: string, event: ParsedEvent | undefined): Promise<void> {
    this.stats.subscribes++;
    const r = req.request;
    const events = this.allowEvents();
    if (!event) return this.reply(req, handler, 400, "Bad Request (SUBSCRIBE needs an Event header)", [events]);
    if (!this.opts.router.packages.includes(event.pkg)) return this.reply(req, handler, 489, "Bad Event", [events]);
    const expiresText = r.get("expires");
    if (expiresText !== undefined && !UINT.test(expiresText.trim())) return this.reply(req, handler, 400, "Bad Request (Expires is not a number of seconds)");
    const contacts = r.getAll("contact");
    const contact = contacts.length === 1 ? parseNameAddr(contacts[0]!) : undefined;
    if (!contact?.ok || contact.value.uri.kind !== "sip") return this.reply(req, handler, 400, "Bad Request (SUBSCRIBE needs one SIP Contact)");
    const fromTag = r.from?.params.get("tag");
    if (!fromTag) return this.reply(req, handler, 400, "Bad Request (From has no tag)");
    const accept = r.getAll("accept").map((a) => a.split(";")[0]!.trim().toLowerCase());
    const wanted = event.pkg === "presence" ? PIDF : event.pkg === "xcap-diff" ? XCAP_DIFF_TYPE : WINFO;
    if (accept.length > 0 && !accept.some((a) => a === wanted || a === "*/*" || a === "application/*")) return this.reply(req, handler, 406, `Not Acceptable (${event.pkg} is sent as ${wanted})`, [["Accept", wanted]]);
    const watcher = this.watcherOf(req);
    if (!watcher) return this.reply(req, handler, 403, "Forbidden (no watcher identity)");
    // RFC 5875 4.1: the documents an xcap-diff subscription covers, as a resource list (none: all the user's).
    let resources: string[] | undefined;
    if (event.pkg === "xcap-diff" && r.body.length > 0) {
      const type = (r.get("content-type") ?? "").split(";")[0]!.trim().toLowerCase();
      if (type !== RESOURCE_LISTS) return this.reply(req, handler, 415, "Unsupported Media Type (an xcap-diff SUBSCRIBE names its documents as application/resource-lists+xml)", [["Accept", RESOURCE_LISTS]]);
      const parsed = parseXcapDiffResources(r.body.toString("utf8"), presentity);
      if (!parsed.ok) return this.reply(req, handler, parsed.status, `${parsed.status === 400 ? "Bad Request" : "Forbidden"} (${parsed.reason})`);
      resources = parsed.resources;
    }
    const existingTag = r.to?.params.get("tag");
    const toTag = existingTag ?? newTag();
    const at = this.opts.contactAddress(req.flow.transport);
    const user = presentity.slice(0, presentity.lastIndexOf("@"));
    const ours = at ? `<sip:${user}@${at.host}:${at.port};transport=${req.flow.transport}>` : `<sip:${presentity}>`;
    const call: SubscribeCall = {
      id: `${r.callId}|${fromTag}|${toTag}|${event.id ?? ""}`,
      initial: existingTag === undefined,
      event: event.pkg as SubscribeCall["event"],
      presentity,
      watcher,
      ...(expiresText !== undefined ? { expires: Number(expiresText.trim()) } : {}),
      ...(resources ? { resources } : {}),
      dialog: {
        callId: r.callId,
        localTag: toTag,
        remoteTag: fromTag,
        localUri: withoutTag(r.get("to") ?? `<sip:${presentity}>`),
        remoteUri: withoutTag(r.get("from") ?? watcher),
        remoteTarget: contactUri(contacts[0]!),
        routeSet: r.getAll("record-route"),
        ...(event.id !== undefined ? { eventId: event.id } : {}),
        contact: ours,
        reach: { flowId: req.flow.id, transport: req.flow.transport, source: { address: req.flow.remote.address, port: req.flow.remote.port }, ...(this.opts.self !== undefined ? { edge: this.opts.self } : {}) },
      },
    };
    const answer = await this.opts.router.routeSubscribe(call);
    this.opts.logger.debug({ presentity, watcher, event: event.pkg, initial: call.initial, status: answer.status }, "SUBSCRIBE answered");
    if (answer.status === 200) {
      // Our To tag (RFC 6665 4.1.2.1: the dialog's), then the answer built from the request.
      if (existingTag === undefined) r.set("to", `${r.get("to") ?? ""};tag=${toTag}`);
      this.reply(req, handler, 200, "OK", [["Expires", String(answer.expires ?? 0)], ["Contact", ours], events]);
      // Handled by another holder: its immediate NOTIFY leaves from here, after the 200.
      if (answer.notify) this.opts.router.sendFirstNotify(call.dialog, call.event, answer.notify, answer.expires ?? 0);
      return;
    }
    if (answer.status === 423) return this.reply(req, handler, 423, "Interval Too Brief", [["Min-Expires", String(answer.minExpires ?? 0)]]);
    if (answer.status === 489) return this.reply(req, handler, 489, "Bad Event", [events]);
    this.reply(req, handler, answer.status, answer.reason ?? "Forbidden");
  }

  private async publish(req: ProxyRequest, handler: ForwardHandler, presentity: string, event: ParsedEvent | undefined): Promise<void> {
    this.stats.publishes++;
    const r = req.request;
    const events = this.allowEvents();
    if (!event) return this.reply(req, handler, 400, "Bad Request (PUBLISH needs an Event header)", [["Allow-Events", "presence"]]);
    // RFC 3903 6 step 2: a package we do not serve (winfo is not published).
    if (event.pkg !== "presence") return this.reply(req, handler, 489, "Bad Event", [["Allow-Events", "presence"]]);
    if (req.identity === undefined && !req.trusted) return this.reply(req, handler, 403, "Forbidden (only an authenticated presentity publishes its state)");
    if (req.identity !== undefined && req.identity !== presentity) return this.reply(req, handler, 403, "Forbidden (a user publishes only their own presence)");
    const expiresText = r.get("expires");
    if (expiresText !== undefined && !UINT.test(expiresText.trim())) return this.reply(req, handler, 400, "Bad Request (Expires is not a number of seconds)");
    if (r.body.length > this.opts.maxBody) return this.reply(req, handler, 413, `Request Entity Too Large (a publication holds at most ${this.opts.maxBody} bytes)`);
    const ifMatch = r.get("sip-if-match")?.trim();
    const contentType = r.get("content-type");
    const call: PublishCall = {
      presentity,
      ...(ifMatch ? { ifMatch } : {}),
      ...(expiresText !== undefined ? { expires: Number(expiresText.trim()) } : {}),
      ...(r.body.length > 0 ? { body: r.body.toString("utf8") } : {}),
      ...(contentType !== undefined ? { contentType } : {}),
    };
    const answer = await this.opts.router.routePublish(call);
    this.opts.logger.debug({ presentity, status: answer.status, etag: ifMatch !== undefined }, "PUBLISH answered");
    if (answer.status === 200) return this.reply(req, handler, 200, "OK", [["SIP-ETag", answer.etag ?? ""], ["Expires", String(answer.expires ?? 0)], events]);
    if (answer.status === 423) return this.reply(req, handler, 423, "Interval Too Brief", [["Min-Expires", String(answer.minExpires ?? 0)]]);
    const reasons: Record<number, string> = { 400: "Bad Request", 403: "Forbidden", 412: "Conditional Request Failed", 413: "Request Entity Too Large", 415: "Unsupported Media Type" };
    this.reply(req, handler, answer.status, `${reasons[answer.status] ?? "Rejected"}${answer.reason ? ` (${answer.reason})` : ""}`, answer.status === 415 ? [["Accept", PIDF]] : []);
  }
}

interface ParsedEvent {
  pkg: string;
  id: string | undefined;
}

/** RFC 6665 8.2.1 Event: `package *(;param)`, the `id` parameter kept. */
function parseEvent(v: string | undefined): ParsedEvent | undefined {
  if (v === undefined) return undefined;
  const [pkg, ...params] = v.split(";").map((s) => s.trim());
  if (!pkg || !/^[A-Za-z0-9.!%*_+`'~-]+$/.test(pkg)) return undefined;
  const id = params.find((p) => /^id\s*=/i.test(p))?.replace(/^id\s*=\s*/i, "");
  return { pkg: pkg.toLowerCase(), id: id && id.length <= 128 ? id : undefined };
}

function withoutTag(nameAddr: string): string {
  return nameAddr.replace(/;\s*tag\s*=\s*[^;,\s]*/i, "");
}

/** The URI of a Contact header value (`<uri>;params` or a bare URI). */
function contactUri(value: string): string {
  const na = parseNameAddr(value);
  if (!na.ok) return value;
  const m = /<([^>]*)>/.exec(value);
  return m ? m[1]! : value.split(";")[0]!.trim();
}
