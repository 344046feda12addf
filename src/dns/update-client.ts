/**
 * Pushing the records to an external primary (RFC 2136 dynamic updates over
 * TCP, signed with TSIG, RFC 8945), for operators who already run DNS. Each
 * push sends only the RRsets that changed since the last accepted push: the
 * RRset is deleted, then its current records added, in one UPDATE. SOA and NS
 * (and the name servers' addresses) stay the primary's own. The primary gets
 * every live record: it cannot slice, so answers there are the full RRsets.
 */
import net from "node:net";
import { randomInt } from "node:crypto";
import { describeError, systemClock, type Clock, type Logger, type TimerHandle } from "../base/index.js";
import { DnsUpdateError } from "./errors.js";
import type { WireRR } from "./message-codec.js";
import { canonicalName } from "./names.js";
import { deleteRRset, encodeUpdate, readUpdateReply, signTsig, type TsigKey } from "./update-codec.js";
import type { Zone } from "./zone.js";

const PUSHED_TYPES = new Set(["NAPTR", "SRV", "A", "AAAA"]);
const RCODE_NAMES: Record<number, string> = { 1: "FORMERR", 2: "SERVFAIL", 3: "NXDOMAIN", 4: "NOTIMP", 5: "REFUSED", 6: "YXDOMAIN", 7: "YXRRSET", 8: "NXRRSET", 9: "NOTAUTH", 10: "NOTZONE" };

export interface UpdateClientOptions {
  primary: { host: string; port: number };
  key: TsigKey;
  logger: Logger;
  clock?: Clock;
  /** @default 5000 */
  timeoutMs?: number;
  /** Delay before retrying a failed push. @default 5000 */
  retryMs?: number;
}

interface RRsetState {
  name: string;
  type: string;
  records: readonly WireRR[];
  fingerprint: string;
}

export class UpdateClient {
  private readonly clock: Clock;
  private pushed = new Map<string, RRsetState>();
  private running: Promise<void> | undefined;
  private next: Zone | undefined;
  private retry: TimerHandle | undefined;
  private closed = false;

  constructor(private readonly opts: UpdateClientOptions) {
    this.clock = opts.clock ?? systemClock;
  }

  /**
   * Push `zone` (the latest wins when pushes queue up). Resolves once the
   * primary accepted it; rejects with {@link DnsUpdateError} otherwise, and
   * retries later on its own.
   */
  push(zone: Zone): Promise<void> {
    this.next = zone;
    if (this.retry) {
      this.clock.clearTimeout(this.retry);
      this.retry = undefined;
    }
    const run = async (): Promise<void> => {
      while (this.next && !this.closed) {
        const z = this.next;
        this.next = undefined;
        try {
          await this.pushNow(z);
        } catch (err) {
          if (!this.next && !this.closed) {
            this.next = z;
            this.retry = this.clock.setTimeout(() => void this.push(z).catch(() => undefined), this.opts.retryMs ?? 5000);
          }
          throw err;
        }
      }
    };
    const previous = this.running ?? Promise.resolve();
    const mine = previous.catch(() => undefined).then(run);
    const settled: Promise<void> = mine.catch(() => undefined).finally(() => {
      if (this.running === settled) this.running = undefined;
    });
    this.running = settled;
    return mine;
  }

  close(): void {
    this.closed = true;
    if (this.retry) this.clock.clearTimeout(this.retry);
  }

  private async pushNow(zone: Zone): Promise<void> {
    const current = rrsets(zone);
    const updates: Buffer[] = [];
    let changed = 0;
    for (const [k, old] of this.pushed) {
      if (!current.has(k)) {
        updates.push(deleteRRset(old.name, old.type));
        changed++;
      }
    }
    for (const [k, set] of current) {
      const old = this.pushed.get(k);
      if (old && old.fingerprint === set.fingerprint) continue;
      updates.push(deleteRRset(set.name, set.type), ...set.records.map((r) => r.wire));
      changed++;
    }
    if (changed === 0) return;
    const id = randomInt(0, 65536);
    const message = encodeUpdate(id, zone.origin, updates);
    const { signed, mac } = signTsig(message, this.opts.key, Math.floor(this.clock.wallNow() / 1000));
    const reply = await this.exchange(signed);
    const r = readUpdateReply(reply, id, this.opts.key, mac);
    if (!r.ok) throw new DnsUpdateError(`primary ${this.where()}: ${r.reason}`);
    if (r.rcode !== 0) throw new DnsUpdateError(`primary ${this.where()} refused the update: ${RCODE_NAMES[r.rcode] ?? r.rcode}`);
    if (!r.verified) throw new DnsUpdateError(`primary ${this.where()}: the reply's TSIG does not verify`);
    this.pushed = current;
    this.opts.logger.info({ primary: this.where(), zone: zone.origin, serial: zone.serial, rrsets: changed }, "records pushed to the primary");
  }

  private where(): string {
    return `${this.opts.primary.host}:${this.opts.primary.port}`;
  }

  private exchange(message: Buffer): Promise<Buffer> {
    return new Promise((resolve, reject) => {
      const socket = net.connect(this.opts.primary.port, this.opts.primary.host);
      let buf = Buffer.alloc(0);
      const fail = (why: string, cause?: unknown) => {
        socket.destroy();
        reject(new DnsUpdateError(`primary ${this.where()}: ${why}`, { cause }));
      };
      socket.setTimeout(this.opts.timeoutMs ?? 5000, () => fail("no answer in time"));
      socket.on("error", (err) => fail(describeError(err), err));
      socket.on("connect", () => {
        const len = Buffer.alloc(2);
        len.writeUInt16BE(message.length, 0);
        socket.write(Buffer.concat([len, message]));
      });
      socket.on("data", (chunk: Buffer) => {
        buf = Buffer.concat([buf, chunk]);
        if (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
          socket.end();
          resolve(buf.subarray(2, 2 + buf.readUInt16BE(0)));
        }
      });
      socket.on("end", () => fail("connection closed before the answer"));
    });
  }
}

/** The RRsets pushed: NAPTR, SRV, A, AAAA, except the name servers' own addresses. */
function rrsets(zone: Zone): Map<string, RRsetState> {
  const ns = new Set((zone.node(zone.origin)?.sets.get("NS")?.records ?? []).map((r) => canonicalName(String((r as { data: unknown }).data))));
  const out = new Map<string, RRsetState>();
  for (const [name, node] of zone.nodes) {
    for (const set of node.sets.values()) {
      if (!PUSHED_TYPES.has(set.type) || set.records.length === 0) continue;
      if ((set.type === "A" || set.type === "AAAA") && ns.has(name)) continue;
      const fingerprint = set.wire.map((w) => w.wire.toString("hex")).sort().join(",");
      out.set(`${name}|${set.type}`, { name, type: set.type, records: set.wire, fingerprint });
    }
  }
  return out;
}
