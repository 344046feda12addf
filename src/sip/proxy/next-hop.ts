/**
 * Where a request leaves for (RFC 3261 16.6 steps 6 and 7, RFC 3263, RFC
 * 5626): a client-side flow named by one of our tokens, the flow a
 * registered client registered from (or, in the distributed service, the
 * member that holds it: reverse outbound), else the next hop of the route
 * set or Request-URI, resolved. Shared by the forwarder and the stateless
 * ACK path.
 */
import type { Binding } from "../registrar/index.js";
import { nextHopUri, resolveUri, type Destination, type SipResolver } from "./targets.js";
import { flowRef, parseFlowRef, udpRef, type FlowRef } from "./flow-token.js";
import type { Flow, SipTransport } from "../transport/index.js";
import { parseUri, type SipRequest } from "../message/index.js";
import type { ClusterHooks } from "./options.js";
import type { OwnUris } from "./own-uris.js";

export interface NextHopChoice {
  dest: Destination | undefined;
  flow: Flow | undefined;
}

export class NextHop {
  constructor(
    private readonly transport: SipTransport,
    private readonly own: OwnUris,
    private readonly cluster: ClusterHooks | undefined,
    private readonly resolver: SipResolver | undefined,
  ) {}

  /** A client-side flow named by a flow token that is still usable (not the one the request came from). */
  hintedFlow(hints: readonly FlowRef[], inbound: Flow | undefined): NextHopChoice | undefined {
    const from = inbound ? flowRef(inbound) : undefined;
    for (const ref of hints) {
      if (ref === from) continue;
      const p = parseFlowRef(ref);
      if (!p) continue;
      if (p.kind === "udp") return { dest: { transport: "udp", address: p.address, port: p.port, clientFlow: true }, flow: undefined };
      if (p.kind === "address") return { dest: { transport: p.transport, address: p.address, port: p.port }, flow: undefined };
      const flow = this.transport.flow(p.id);
      if (flow && !flow.closed && flow.peer === undefined) return { dest: undefined, flow };
    }
    return undefined;
  }

  /**
   * Whether the next hop of an in-dialog request from outside is one the
   * dialog was set up with (a flow or address in our token) or another
   * member: a party of the dialog reaches the other party, nobody else.
   */
  withinDialog(refs: readonly FlowRef[], dest: Destination | undefined, flow: Flow | undefined): boolean {
    if (flow) {
      if (flow.peer !== undefined) return true;
      dest = { transport: flow.transport, address: flow.remote.address, port: flow.remote.port };
    }
    if (!dest) return true; // nowhere to send: answered 503
    if (dest.internal) return true;
    const to = dest;
    return refs.some((r) => {
      const p = parseFlowRef(r);
      if (!p) return false;
      if (p.kind === "connection") {
        const f = this.transport.flow(p.id);
        return f !== undefined && f.transport === to.transport && f.remote.address === to.address && f.remote.port === to.port;
      }
      const transport = p.kind === "udp" ? "udp" : p.transport;
      return transport === to.transport && p.address === to.address && p.port === to.port;
    });
  }

  async choose(req: SipRequest, binding: Binding | undefined, hints: readonly FlowRef[] = [], inbound?: Flow): Promise<NextHopChoice> {
    const hinted = req.getAll("route").length === 0 ? this.hintedFlow(hints, inbound) : undefined;
    if (hinted) return hinted;
    const cluster = this.cluster;
    // A UDP client without a NAT binding, registered through another worker of this host, is reached from here.
    const direct = binding?.edge !== undefined && binding.transport === "udp" && cluster?.sameHost?.(binding.edge) === true && bindingFlowRef(binding) === undefined;
    if (binding?.edge !== undefined && cluster && binding.edge !== cluster.self && !direct && req.getAll("route").length === 0) {
      // Reverse outbound: the client is reached through the member that holds its flow.
      // The token lives as long as the binding: the edge uses it for this request only.
      const at = cluster.edgeAddress(binding.edge);
      const ref = bindingFlowRef(binding);
      if (at) req.prepend("route", this.own.signedUri("flow", at, ref ? [ref] : [], req.callId, binding.expires / 1000, ";transport=tls"));
      else if (binding.transport === "udp") return { dest: { transport: "udp", address: binding.source.address, port: binding.source.port, clientFlow: true }, flow: undefined };
      else return { dest: undefined, flow: undefined };
    } else if (binding && req.getAll("route").length === 0) {
      // Reach the client where it registered from (see bindingFlowRef).
      const ref = bindingFlowRef(binding);
      const p = ref ? parseFlowRef(ref) : undefined;
      if (p?.kind === "connection") {
        const flow = this.transport.flow(p.id);
        if (flow && !flow.closed) return { dest: undefined, flow };
      } else if (p?.kind === "udp") return { dest: { transport: "udp", address: p.address, port: p.port, clientFlow: true }, flow: undefined };
    }
    const hop = nextHopUri(req);
    const dest = hop ? await resolveUri(hop, this.resolver ? { resolver: this.resolver } : {}) : undefined;
    if (dest && cluster && dest.transport === "tls" && cluster.isPeer(dest.address, dest.port)) dest.internal = true;
    return { dest, flow: undefined };
  }
}

/**
 * How a registered client is reached on the node that holds its flow: over
 * its connection (clients seldom accept inbound connections), or at its UDP
 * source address when a NAT rewrote it or the client asked for outbound
 * (RFC 5626); otherwise (undefined) at its Contact.
 */
function bindingFlowRef(binding: Binding): FlowRef | undefined {
  if (binding.transport !== "udp") return `c:${binding.flowId}`;
  const contact = parseUri(binding.uri);
  const contactHost = contact.ok && contact.uri.kind === "sip" ? contact.uri.host.replace(/^\[|\]$/g, "") : undefined;
  const outbound = binding.regId !== undefined || /;ob\b/.test(binding.contact);
  return outbound || contactHost !== binding.source.address ? udpRef(binding.source.address, binding.source.port) : undefined;
}
