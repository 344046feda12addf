/**
 * The relay's data path in Node: one dgram socket per port, each packet
 * handled by `Leg` in JavaScript. Used where the native forwarder is not
 * built (see `native-legs.ts`) or when `dataPath: "js"` is asked for.
 */
import { Leg, type LegEnvironment, type LegFactory, type RelayCounters, type RelayLeg } from "./session.js";
import { bindUdpPair } from "./transport/udp-pair.js";

export class SocketLegs implements LegFactory {
  readonly kind = "js";

  constructor(private readonly env: LegEnvironment) {}

  async open(listen: string, port: number, advertise: string): Promise<RelayLeg | undefined> {
    const pair = await bindUdpPair(listen, port);
    return pair ? new Leg(pair[0], pair[1], port, advertise, this.env) : undefined;
  }

  link(a: RelayLeg, b: RelayLeg): void {
    if (!(a instanceof Leg) || !(b instanceof Leg)) throw new TypeError("socket legs link only with socket legs");
    a.peer = b;
    b.peer = a;
  }

  counters(): RelayCounters {
    return this.env.counters;
  }

  stop(): void {}
}
