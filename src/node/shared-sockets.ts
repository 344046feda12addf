/**
 * The SO_REUSEPORT socket opener of the SIP workers of one host
 * (native/reuseport): optional; without it a host runs one SIP worker and
 * says why (docs/sip-cluster.md, "Every core of a host").
 */
import { loadSocketsAddon } from "../base/native-sockets.js";

/** Opens a socket bound to `host:port` with SO_REUSEPORT: its descriptor, or a negative errno. */
export type SharedOpener = (kind: "udp" | "tcp", host: string, port: number, bufferBytes: number) => number;

/** The opener, or why there is none (not built, or not Linux). */
export function loadSharedOpener(): SharedOpener | string {
  const addon = loadSocketsAddon();
  return typeof addon === "string" ? addon : (kind, host, port, bufferBytes) => addon.openShared(kind, host, port, bufferBytes);
}
