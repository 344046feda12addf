/**
 * Flow tokens (RFC 5626 5.2 style): the node that holds a client's flow
 * puts a reference to it in the user part of the URIs it inserts (its
 * Record-Route, and the Route another node uses to reach a registered
 * client through it), so requests that come back to it leave on that flow
 * instead of being resolved from the client's Contact, which behind a NAT
 * or on a connection-oriented transport may not be reachable.
 */
import type { Flow } from "../transport/index.js";

/** `c:<flow id>` for a connection, `u:<port>:<address>` for a UDP peer. */
export type FlowRef = string;

export type ParsedFlowRef = { kind: "connection"; id: string } | { kind: "udp"; address: string; port: number };

const PREFIX = "ft-";

export function flowRef(flow: Flow): FlowRef {
  return flow.transport === "udp" ? udpRef(flow.remote.address, flow.remote.port) : `c:${flow.id}`;
}

export function udpRef(address: string, port: number): FlowRef {
  return `u:${port}:${address}`;
}

export function parseFlowRef(ref: string): ParsedFlowRef | undefined {
  if (ref.startsWith("c:") && ref.length > 2) return { kind: "connection", id: ref.slice(2) };
  const m = /^u:(\d{1,5}):([0-9A-Fa-f.:]+)$/.exec(ref);
  if (!m) return undefined;
  const port = Number(m[1]);
  return port > 0 && port <= 65535 ? { kind: "udp", address: m[2]!, port } : undefined;
}

/** The URI user part naming `refs`. */
export function encodeFlowToken(refs: readonly FlowRef[]): string {
  return PREFIX + Buffer.from(refs.join(" "), "utf8").toString("base64url");
}

/** The flow references in a URI user part; none when it is not a flow token or is malformed. */
export function decodeFlowToken(user: string | undefined): FlowRef[] {
  if (!user || !user.startsWith(PREFIX) || user.length > 600) return [];
  const text = Buffer.from(user.slice(PREFIX.length), "base64url").toString("utf8");
  return text.split(" ").filter((r) => parseFlowRef(r) !== undefined);
}
