/**
 * http/ — floor 1. The project's one HTTP framework (fastify) behind a
 * factory with shared limits. Imports only base/.
 */
export { createHttpApp, listenHttp, type HttpApp, type HttpServerOptions } from "./server.js";
export { DEFAULT_HTTP_BODY_LIMIT, DEFAULT_HTTP_REQUEST_TIMEOUT_MS, DEFAULT_HTTP_KEEPALIVE_MS, DEFAULT_HTTP_MAX_CONNECTIONS } from "./options.js";
export { isLoopback } from "./address.js";
export { FailureThrottle, DEFAULT_AUTH_FAILURES, DEFAULT_AUTH_FAILURE_WINDOW_MS, DEFAULT_AUTH_FAILURE_SOURCES, type FailureThrottleOptions } from "./failure-throttle.js";
