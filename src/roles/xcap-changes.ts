/**
 * `xcap.changed` over the control link: after an XCAP write, the
 * xcap_server tells the sip_proxy node responsible for the document's
 * owner (the first live holder of the AOR on the sip_proxy ring), so that
 * the owner's presence rules apply at once.
 *
 * - {@link XcapChangeNotifier} (on xcap_server nodes) sends the notice to
 *   the holders in ring order until one takes it.
 * - {@link XcapChangeReceiver} (on sip_proxy nodes) validates it and hands
 *   it to the presence agent (pres-rules changes re-judge the owner's
 *   watchers there and replicates the result).
 */
import { z } from "zod";
import { describeError, type Logger } from "../base/index.js";
import type { ControlLink } from "../node/index.js";
import type { RoleMap } from "../overlay/index.js";
import type { PeerIdentity } from "../pki/index.js";
import type { XcapChange } from "../xcap/index.js";
import { XcapNoticeError } from "./errors.js";

export const XCAP_CHANGED_METHOD = "xcap.changed";

const noticeSchema = z
  .object({
    aor: z.string().min(3).max(300),
    xui: z.string().min(3).max(300),
    auid: z.string().min(1).max(64),
    document: z.string().min(1).max(256),
    etag: z.string().max(64).nullable(),
    previousEtag: z.string().max(64).nullable().optional(),
    root: z.string().max(512).optional(),
  })
  .strict();

export interface XcapChangeNotifierOptions {
  control: ControlLink;
  map: () => RoleMap | undefined;
  logger: Logger;
  /** Holders tried in ring order (the responsible node, then its replicas). @default 2 */
  holders?: number;
  /** @default 2000 */
  timeoutMs?: number;
}

export class XcapChangeNotifier {
  readonly stats = { sent: 0, failed: 0 };

  constructor(private readonly opts: XcapChangeNotifierOptions) {}

  /** Tell the responsible sip_proxy holder; the answer is the member that took it, or undefined. */
  async notify(change: XcapChange): Promise<string | undefined> {
    const holders = this.opts.map()?.successors("sip_proxy", change.aor, this.opts.holders ?? 2) ?? [];
    for (const h of holders) {
      try {
        await this.opts.control.call(h.id, XCAP_CHANGED_METHOD, change, this.opts.timeoutMs ?? 2000);
        this.stats.sent++;
        return h.id;
      } catch (err) {
        this.opts.logger.debug({ to: h.id, aor: change.aor, err: describeError(err) }, "xcap.changed not taken, trying the next holder");
      }
    }
    this.stats.failed++;
    if (holders.length > 0) this.opts.logger.warn({ aor: change.aor, auid: change.auid }, "no sip_proxy holder took the xcap.changed notice");
    return undefined;
  }
}

export class XcapChangeReceiver {
  readonly stats = { received: 0 };

  /** `onChange` is the presence agent's hook. */
  constructor(
    control: ControlLink,
    private readonly log: Logger,
    private readonly onChange?: (change: XcapChange) => void,
  ) {
    control.handle(XCAP_CHANGED_METHOD, (payload, peer) => this.receive(payload, peer));
  }

  private receive(payload: unknown, peer: PeerIdentity): { ok: true } {
    if (peer.subject["OU"] !== "node") throw new XcapNoticeError(`${XCAP_CHANGED_METHOD} is for nodes; ${peer.subject["CN"] ?? "?"} has OU=${peer.subject["OU"] ?? "none"}`);
    const r = noticeSchema.safeParse(payload);
    if (!r.success) throw new XcapNoticeError(`invalid ${XCAP_CHANGED_METHOD}: ${r.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ")}`);
    this.stats.received++;
    this.log.info({ from: peer.subject["CN"], aor: r.data.aor, auid: r.data.auid, document: r.data.document, deleted: r.data.etag === null }, "XCAP document changed");
    this.onChange?.(r.data);
    return { ok: true };
  }
}
