import dgram from "node:dgram";
import dnsPacket from "dns-packet";

/**
 * A tiny authoritative DNS server for tests, answering over UDP from a
 * fixture: records keyed by `TYPE name` (e.g. `SRV _sip._tcp.foreign.test`).
 * A name absent from the fixture gets an empty NOERROR answer. Every
 * question is logged in `queries` (as `TYPE name`).
 */
export type DnsFixture = Record<string, dnsPacket.Answer[]>;

export interface DnsServer {
  readonly address: string;
  readonly port: number;
  /** `ip:port`, as resolvers take it. */
  readonly server: string;
  readonly queries: string[];
  close(): Promise<void>;
}

export async function startDnsServer(host: string, fixture: DnsFixture): Promise<DnsServer> {
  const socket = dgram.createSocket("udp4");
  const queries: string[] = [];
  socket.on("message", (msg, rinfo) => {
    let q: dnsPacket.Packet;
    try {
      q = dnsPacket.decode(msg);
    } catch {
      return;
    }
    const question = q.questions?.[0];
    if (!question) return;
    const key = `${question.type} ${question.name.toLowerCase()}`;
    queries.push(key);
    const answers = fixture[key] ?? [];
    socket.send(dnsPacket.encode({ type: "response", id: q.id ?? 0, flags: dnsPacket.AUTHORITATIVE_ANSWER | dnsPacket.RECURSION_DESIRED, questions: q.questions ?? [], answers }), rinfo.port, rinfo.address);
  });
  await new Promise<void>((resolve, reject) => {
    socket.once("error", reject);
    socket.bind(0, host, () => resolve());
  });
  const port = socket.address().port;
  return {
    address: host,
    port,
    server: `${host}:${port}`,
    queries,
    close: () => new Promise<void>((r) => socket.close(() => r())),
  };
}

/** Record builders for fixtures. */
export const rr = {
  naptr: (name: string, order: number, preference: number, services: string, replacement: string, flags = "s"): dnsPacket.Answer => ({ type: "NAPTR", name, ttl: 60, data: { order, preference, flags, services, regexp: "", replacement } }),
  srv: (name: string, priority: number, weight: number, port: number, target: string): dnsPacket.Answer => ({ type: "SRV", name, ttl: 60, data: { priority, weight, port, target } }),
  a: (name: string, address: string): dnsPacket.Answer => ({ type: "A", name, ttl: 60, data: address }),
  aaaa: (name: string, address: string): dnsPacket.Answer => ({ type: "AAAA", name, ttl: 60, data: address }),
};
