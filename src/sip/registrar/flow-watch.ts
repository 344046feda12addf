/**
 * RFC 5626 flow failure, on the node that holds the connection: the
 * AORs registered over each connection (WebSocket, TCP, TLS) are
 * remembered, and when the connection closes the location service is told
 * (on a single node the local store, in the distributed service the AOR's
 * holders, through the same service the registrar writes to), which drops
 * the bindings that only that flow reached. A browser tab that is closed
 * then gets no more INVITEs forked to it.
 *
 * Bounded: at most {@link MAX_AORS_PER_FLOW} AORs per connection (more
 * are left to expire as usual); the entry goes with the connection.
 */
import { describeError, type Logger } from "../../base/index.js";
import type { Flow } from "../transport/index.js";
import type { LocationService } from "./location.js";

/** @default 32: AORs remembered per connection (a client registers one, an edge proxy's Path flows are not watched). */
export const MAX_AORS_PER_FLOW = 32;

export interface FlowWatchOptions {
  location: LocationService;
  logger: Logger;
  /** This member's id (distributed service): the edge named in the bindings it registered. */
  edge?: string;
}

export class FlowWatch {
  /** flow id → AORs registered over it. */
  private readonly flows = new Map<string, Set<string>>();
  /** Bindings removed because their flow closed. */
  failed = 0;

  constructor(private readonly opts: FlowWatchOptions) {}

  /** A REGISTER for `aor` succeeded over `flow` (without Path): watch the connection. */
  registered(aor: string, flow: Flow): void {
    if (!flow.onClose || flow.peer !== undefined || flow.closed) return;
    let aors = this.flows.get(flow.id);
    if (!aors) {
      this.flows.set(flow.id, (aors = new Set()));
      flow.onClose(() => this.closed(flow.id));
    }
    if (aors.size < MAX_AORS_PER_FLOW) aors.add(aor);
  }

  /** How many connections are watched (statistics). */
  get size(): number {
    return this.flows.size;
  }

  private closed(id: string): void {
    const aors = this.flows.get(id);
    this.flows.delete(id);
    if (!aors) return;
    const flow = { id, ...(this.opts.edge !== undefined ? { edge: this.opts.edge } : {}) };
    for (const aor of aors) {
      Promise.resolve()
        .then(() => this.opts.location.flowFailed(aor, flow))
        .then(
          (n) => {
            this.failed += n;
            if (n > 0) this.opts.logger.debug({ aor, flow: id, bindings: n }, "flow closed: its bindings removed (RFC 5626)");
          },
          (err: unknown) => this.opts.logger.warn({ aor, flow: id, err: describeError(err) }, "flow closed, but its bindings could not be removed (they expire as registered)"),
        );
    }
  }
}
