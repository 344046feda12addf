/**
 * The presence feature assembled for a SIP server: the agent (holder
 * side) and its request-phase interceptor (edge side), NOTIFYs sent
 * through the server's originator. Used by the `sip_proxy` role and by
 * the single-node `thor sip`.
 */
import type { Clock, Logger } from "../base/index.js";
import { DEFAULT_MAX_PUBLICATION_BYTES, type Handling, type PresenceLimits } from "../presence/index.js";
import type { SipServer } from "../sip/index.js";
import { PresenceAgent, type PresenceAgentOptions } from "./presence-agent.js";
import { PresenceInterceptor } from "./presence-interceptor.js";

export interface PresenceFeature {
  agent: PresenceAgent;
  edge: PresenceInterceptor;
}

export interface PresenceFeatureOptions {
  clock: Clock;
  logger: Logger;
  domains: readonly string[];
  /** The SIP server the interceptor is given to (built after the feature). */
  server(): SipServer | undefined;
  limits?: Partial<PresenceLimits>;
  withoutRules?: Handling;
  loadRules?: PresenceAgentOptions["loadRules"];
  loadXcapState?: PresenceAgentOptions["loadXcapState"];
  loadDocument?: PresenceAgentOptions["loadDocument"];
  cluster?: PresenceAgentOptions["cluster"];
}

export function presenceFeature(opts: PresenceFeatureOptions): PresenceFeature {
  const agent = new PresenceAgent({
    clock: opts.clock,
    logger: opts.logger,
    uac: { send: (req, target, tu) => opts.server()?.proxy.originator.send(req, target, tu) ?? Promise.resolve(false) },
    ...(opts.limits ? { limits: opts.limits } : {}),
    ...(opts.withoutRules ? { withoutRules: opts.withoutRules } : {}),
    ...(opts.loadRules ? { loadRules: opts.loadRules } : {}),
    ...(opts.loadXcapState ? { loadXcapState: opts.loadXcapState } : {}),
    ...(opts.loadDocument ? { loadDocument: opts.loadDocument } : {}),
    ...(opts.cluster ? { cluster: opts.cluster } : {}),
  });
  const edge = new PresenceInterceptor({
    router: agent,
    domains: opts.domains,
    ...(opts.cluster ? { self: opts.cluster.self } : {}),
    contactAddress: (t) => opts.server()?.proxy.originator.contactAddress(t),
    maxBody: opts.limits?.maxPublicationBytes ?? DEFAULT_MAX_PUBLICATION_BYTES,
    logger: opts.logger,
  });
  return { agent, edge };
}

/** The agent's counters under the names a node publishes (Thor.Statistics). */
export function presenceStatistics(agent: PresenceAgent): Record<string, number> {
  const s = agent.stats;
  return { presenceSubscriptions: agent.notifier.subscriptionCount, presenceSubscribes: s.subscribes, presencePublishes: s.publishes, presenceNotifies: s.notifies, presenceNotifyFailures: s.notifyFailures };
}
