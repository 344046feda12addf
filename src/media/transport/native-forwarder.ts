/**
 * The native forwarder addon (native/media-forwarder, built by
 * `npm run build` with node-gyp): its typed surface and its loading. The
 * addon is optional; when it is missing the relay uses the JavaScript data
 * path and says why.
 */
import { createRequire } from "node:module";
import type { DropCounters, RelayCounters } from "../session.js";
import type { StreamCounters } from "../stream-stats.js";

/** An engine handle: one forwarding thread and its legs. */
export type NativeEngineHandle = { readonly __nativeMediaEngine: unique symbol };

/** What the forwarding thread knows about one leg: its receiver statistics (jitter unrounded), drops, and latching. */
export interface NativeLegInfo extends StreamCounters, DropCounters {
  latched: boolean;
  remote: string | null;
  /** ms since the leg last admitted a packet; -1 when it never did. */
  idleMs: number;
}

export interface NativeForwarder {
  createEngine(floodPps: number): NativeEngineHandle;
  stop(engine: NativeEngineHandle): void;
  /** A leg on `port` and `port + 1`: its index, or a negative errno when a port cannot be bound. */
  openPair(engine: NativeEngineHandle, address: string, port: number): number;
  link(engine: NativeEngineHandle, a: number, b: number): void;
  describe(engine: NativeEngineHandle, leg: number, address: string | null, port: number, rtcpPort: number, rtcpMux: boolean, clockRate: number): void;
  closeLeg(engine: NativeEngineHandle, leg: number): void;
  legInfo(engine: NativeEngineHandle, leg: number): NativeLegInfo;
  idleMs(engine: NativeEngineHandle, leg: number): number;
  counters(engine: NativeEngineHandle): RelayCounters;
}

const ADDON = new URL("../../../../native/media-forwarder/build/Release/thor_media.node", import.meta.url);

let loaded: NativeForwarder | string | undefined;

/** The addon, or why it cannot be used (not built, or not Linux). */
export function loadNativeForwarder(): NativeForwarder | string {
  if (loaded !== undefined) return loaded;
  if (process.platform !== "linux") return (loaded = `the native forwarder needs Linux (recvmmsg, epoll); this is ${process.platform}`);
  try {
    loaded = createRequire(import.meta.url)(ADDON.pathname) as NativeForwarder;
  } catch (err) {
    loaded = `the native forwarder is not built (${ADDON.pathname}: ${err instanceof Error ? err.message.split("\n")[0] : String(err)}); run npm run build`;
  }
  return loaded;
}
