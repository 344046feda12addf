/**
 * The SO_REUSEPORT socket opener of the SIP workers of one host
 * (native/reuseport, built by `npm run build` with node-gyp): its loading.
 * The addon is optional; without it a host runs one SIP worker and says
 * why (docs/sip-cluster.md, "Every core of a host").
 */
import { createRequire } from "node:module";

/** Opens a socket bound to `host:port` with SO_REUSEPORT: its descriptor, or a negative errno. */
export type SharedOpener = (kind: "udp" | "tcp", host: string, port: number, bufferBytes: number) => number;

const ADDON = new URL("../../../native/reuseport/build/Release/thor_sockets.node", import.meta.url);

let loaded: SharedOpener | string | undefined;

/** The opener, or why there is none (not built, or not Linux). */
export function loadSharedOpener(): SharedOpener | string {
  if (loaded !== undefined) return loaded;
  if (process.platform !== "linux") return (loaded = `shared SIP ports need Linux's SO_REUSEPORT hashing; this is ${process.platform}`);
  try {
    const addon = createRequire(import.meta.url)(ADDON.pathname) as { openShared: SharedOpener };
    loaded = (kind, host, port, bufferBytes) => addon.openShared(kind, host, port, bufferBytes);
  } catch (err) {
    loaded = `native/reuseport is not built (${err instanceof Error ? err.message.split("\n")[0] : String(err)}); run npm run build`;
  }
  return loaded;
}
