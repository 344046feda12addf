/**
 * The sockets addon (native/reuseport, built by `npm run build` with
 * node-gyp): SO_REUSEPORT sockets for the SIP workers of one host and
 * batched UDP (recvmmsg/sendmmsg) for the SIP transport. Optional: without
 * it a host runs one SIP worker and UDP goes through Node's dgram; callers
 * say why (the text this returns instead of the addon).
 */
import { createRequire } from "node:module";

/** The addon's functions; every negative number is a negated errno. */
export interface SocketsAddon {
  /** A blocking socket bound to `host:port` with SO_REUSEPORT (for dgram and net to adopt). */
  openShared(kind: "udp" | "tcp", host: string, port: number, bufferBytes: number): number;
  /** A non-blocking UDP socket bound to `host:port`. */
  udpOpen(host: string, port: number, bufferBytes: number, reusePort: boolean): number;
  udpLocalPort(fd: number): number;
  /** Writes the 4 or 16 bytes of an IP literal to `out`; its family (4 or 6), or 0. */
  packAddress(text: string, out: Uint8Array): number;
  udpStart(fd: number, inbox: Buffer, table: Int32Array, names: Buffer, onBatch: (count: number) => void, onWritable: () => void): UdpHandle;
  udpWantWritable(handle: UdpHandle): void;
  udpSend(handle: UdpHandle, outbox: Buffer, table: Int32Array, from: number, to: number): number;
  udpClose(handle: UdpHandle): void;
}

/** A started socket of the addon (an opaque external). */
export type UdpHandle = { readonly __udpHandle: unique symbol };

const ADDON = new URL("../../../native/reuseport/build/Release/thor_sockets.node", import.meta.url);

let loaded: SocketsAddon | string | undefined;

/** The addon, or why there is none (not built, or not Linux). */
export function loadSocketsAddon(): SocketsAddon | string {
  if (loaded !== undefined) return loaded;
  if (process.platform !== "linux") return (loaded = `the sockets addon needs Linux (SO_REUSEPORT hashing, recvmmsg); this is ${process.platform}`);
  try {
    loaded = createRequire(import.meta.url)(ADDON.pathname) as SocketsAddon;
  } catch (err) {
    loaded = `native/reuseport is not built (${err instanceof Error ? err.message.split("\n")[0] : String(err)}); run npm run build`;
  }
  return loaded;
}
