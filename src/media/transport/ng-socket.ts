/** The UDP socket of the rtpengine ng client (the engine's only other socket). */
import dgram from "node:dgram";
import { isIPv6 } from "node:net";

export type NgSocket = dgram.Socket;

export function openNgSocket(peerHost: string, onMessage: (msg: Buffer) => void): Promise<NgSocket> {
  const s = dgram.createSocket(isIPv6(peerHost) ? "udp6" : "udp4");
  s.on("message", (m) => onMessage(m));
  s.on("error", () => undefined);
  return new Promise((resolve) => s.bind(0, () => resolve(s)));
}
