/**
 * The `thor dns` engine and server with a fixed membership, for the DNS
 * benchmark: the same Authority, Responder and DnsServer as `thor dns`,
 * without the event bus (which is idle under a query load anyway).
 *
 * Run: `node dns-server.js <host> <port> <members> <slice> <zoneFileOut> [constant]`
 * It writes the equivalent master file (for Knot) and prints `ready`. With
 * `constant`, a bare Node UDP socket answers every datagram with one fixed
 * response (its id patched): the cost of Node's UDP I/O alone.
 */
import dgram from "node:dgram";
import { writeFileSync } from "node:fs";
import dnsPacket from "dns-packet";
import { fileURLToPath } from "node:url";
import { silentLogger } from "../src/base/index.js";
import { Authority, DnsServer, Responder, type Zone } from "../src/dns/index.js";
import type { Entity } from "../src/overlay/index.js";

export function benchMembers(n: number): Entity[] {
  return Array.from({ length: n }, (_, i) => ({
    id: `node${i + 1}`,
    ip: `10.0.${Math.floor(i / 250)}.${(i % 250) + 1}`,
    roles: ["sip_proxy"],
    version: "bench",
    ports: { sip_udp: 5060, sip_tcp: 5060, sip_tls: 5061, lookup: 9500 },
    attrs: {},
    startedAt: 1,
  }));
}

/** The zone as an RFC 1035 master file: what Knot serves as the static equivalent. */
export function masterFile(zone: Zone): string {
  const lines = [`$ORIGIN ${zone.origin}.`];
  for (const [name, node] of zone.nodes) {
    for (const set of node.sets.values()) {
      for (const rr of set.records) {
        const d = (rr as { data: unknown }).data;
        let rdata: string;
        switch (rr.type) {
          case "SOA": {
            const s = d as { mname: string; rname: string; serial: number; refresh: number; retry: number; expire: number; minimum: number };
            rdata = `${s.mname}. ${s.rname}. ${s.serial} ${s.refresh} ${s.retry} ${s.expire} ${s.minimum}`;
            break;
          }
          case "NS":
            rdata = `${d as string}.`;
            break;
          case "NAPTR": {
            const n = d as { order: number; preference: number; flags: string; services: string; regexp: string; replacement: string };
            rdata = `${n.order} ${n.preference} "${n.flags}" "${n.services}" "${n.regexp}" ${n.replacement}.`;
            break;
          }
          case "SRV": {
            const s = d as { priority: number; weight: number; port: number; target: string };
            rdata = `${s.priority} ${s.weight} ${s.port} ${s.target}.`;
            break;
          }
          default:
            rdata = String(d);
        }
        lines.push(`${name}. ${rr.type === "OPT" ? 0 : (rr.ttl ?? 0)} IN ${rr.type} ${rdata}`);
      }
    }
  }
  return lines.join("\n") + "\n";
}

async function main(): Promise<void> {
  const [host, port, members, slice, zoneOut, mode] = process.argv.slice(2);
  if (mode === "constant") {
    const fixed = dnsPacket.encode({ type: "response", id: 0, flags: 1 << 10, questions: [{ name: "node1.example.com", type: "A" }], answers: [{ type: "A", name: "node1.example.com", ttl: 10, data: "10.0.0.1" }] });
    const socket = dgram.createSocket("udp4");
    socket.on("message", (msg, rinfo) => {
      if (msg.length < 2) return;
      const out = Buffer.from(fixed);
      out[0] = msg[0]!;
      out[1] = msg[1]!;
      socket.send(out, rinfo.port, rinfo.address);
    });
    await new Promise<void>((r) => socket.bind(Number(port), host, () => r()));
    process.stdout.write("ready\n");
    return;
  }
  const authority = new Authority([{ origin: "example.com", nameservers: [{ name: "ns1.example.com", ip: host! }], eventServers: [{ host: "10.0.9.1", port: 8000 }] }], 1);
  authority.apply(benchMembers(Number(members)), 2);
  if (zoneOut) writeFileSync(zoneOut, masterFile(authority.zones()[0]!));
  const server = new DnsServer({ responder: new Responder(authority, { slice: Number(slice) }), logger: silentLogger, listen: [{ host: host!, port: Number(port) }] });
  await server.start();
  process.stdout.write("ready\n");
  process.once("SIGTERM", () => void server.stop().then(() => process.exit(0)));
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await main();
