/**
 * provisioning/ — floor 2. The modern NGNPro: the HTTP/JSON API over the
 * central database (domains, accounts, aliases/DIDs, trusted peers, call
 * features, audit, bulk import, network status), its OpenAPI document, API
 * tokens, a typed client, and the subscriber cache SIP nodes answer from.
 * Imports base/ and db/.
 */
export { ProvisioningService, ha1Of, accountView, CHANGE_LOG_RETENTION_MS, type AccountView, type ChangeNotice, type ChangePublisher, type ChangeReceipt, type ProvisioningServiceOptions, type PageInput } from "./service.js";
export { ProvisioningServer, errorAnswer, type ProvisioningServerOptions } from "./server.js";
export { isLoopback } from "../http/index.js";
export { ProvisioningClient, type ProvisioningClientOptions, type RawAnswer } from "./client.js";
export { buildOpenApi } from "./openapi.js";
export { buildRoutes, type Route, type RouteContext, type RouteResult } from "./routes.js";
export { SubscriberCache, type SubscriberCacheOptions, type SubscriberSource, type SubscriberState, type CachedCredentials, type CacheEvent } from "./subscriber-cache.js";
export { StatisticsAggregator, type AggregatedStatistics, type NetworkStatusSource, type StatisticsReportInput } from "./status.js";
export { TokenRing, parseToken, generateSecret, type ApiToken, type TokenScope } from "./tokens.js";
export { FailureThrottle, DEFAULT_AUTH_FAILURES, DEFAULT_AUTH_FAILURE_WINDOW_MS, DEFAULT_AUTH_FAILURE_SOURCES, type FailureThrottleOptions } from "../http/index.js";
export {
  parseAor,
  validCidr,
  SIP_USER,
  DOMAIN,
  E164,
  accountCreateSchema,
  accountPatchSchema,
  domainCreateSchema,
  aliasCreateSchema,
  importSchema,
  type AccountCreate,
  type AccountPatchInput,
  type DomainCreate,
  type AliasCreate,
  type ImportInput,
  type TrustedPeerCreate,
} from "./schemas.js";
export {
  ProvisioningError,
  ProvisioningApiError,
  BadJsonError,
  UnsupportedMediaError,
  ValidationError,
  UnauthorizedError,
  ForbiddenError,
  NotFoundError,
  MethodNotAllowedError,
  ConflictError,
  UnknownReferenceError,
  PayloadTooLargeError,
  TooManyRequestsError,
  UnsafeSettingsError,
  ReadOnlyError,
  UnavailableError,
} from "./errors.js";
export { requestChannel, changeChannel, cacheChannel } from "./diagnostics.js";
export {
  DEFAULT_API_PORT,
  DEFAULT_MAX_BODY,
  DEFAULT_MAX_IMPORT_BODY,
  DEFAULT_PAGE_LIMIT,
  MAX_PAGE_LIMIT,
  DEFAULT_CHANGE_CHUNK,
  DEFAULT_STATISTICS_MAX_AGE_MS,
  DEFAULT_CACHE_PAGE,
} from "./options.js";
export { ChangeFollower, DEFAULT_CHANGE_POLL_MS, type ChangeFollowerOptions } from "./change-follower.js";
