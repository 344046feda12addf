/**
 * roles/ — floor 4. Thin adapters that bind the engines (sip/, ...) to the
 * node: each implements the `Role` contract of node/.
 */
export { SipProxyRole, type SipProxyRoleOptions } from "./sip-proxy.js";
export { ProvisioningServerRole, type ProvisioningRoleOptions } from "./provisioning.js";
export { SubscriberBinding, type SubscriberBindingOptions } from "./subscribers.js";
