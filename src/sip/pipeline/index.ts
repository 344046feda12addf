/**
 * sip/pipeline — the proxy's request pipeline: the `forward(request,
 * handler)` contract, interceptors wrapping its two phases, and plugins
 * (hooks turned into interceptors). See docs/sip-core.md.
 */
export { ProxyRequest, DecoratorHandler, compose, NO_RESPONSE, type Forward, type ForwardHandler, type Interceptor, type ProxyTarget, type RequestSource, type Responder, type RoutingFacts } from "./contract.js";
export { pluginInterceptor, isRejection, type ProxyPlugin, type ForwardContext, type ResponseHandler, type RequestVerdict } from "./plugin.js";
