/**
 * The only place the media engine touches sockets: one UDP socket per
 * port, bound as an RTP/RTCP pair.
 */
import dgram from "node:dgram";
import { isIPv6 } from "node:net";

export type UdpSocket = dgram.Socket;

function bindOne(address: string, port: number): Promise<dgram.Socket | undefined> {
  return new Promise((resolve) => {
    const s = dgram.createSocket({ type: isIPv6(address) ? "udp6" : "udp4", ipv6Only: isIPv6(address) });
    const fail = () => {
      s.close();
      resolve(undefined);
    };
    s.once("error", fail);
    s.bind(port, address, () => {
      s.off("error", fail);
      resolve(s);
    });
  });
}

/** Bind `port` and `port + 1` on `address`; undefined when either is taken. */
export async function bindUdpPair(address: string, port: number): Promise<[UdpSocket, UdpSocket] | undefined> {
  const rtp = await bindOne(address, port);
  if (!rtp) return undefined;
  const rtcp = await bindOne(address, port + 1);
  if (!rtcp) {
    rtp.close();
    return undefined;
  }
  return [rtp, rtcp];
}
