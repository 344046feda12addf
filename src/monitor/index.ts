/**
 * monitor/ — floor 4. Views of the network built from events: the state
 * behind `thor monitor` and its terminal rendering; the web dashboard
 * (`thor dashboard`) on the same view; metrics (from the
 * diagnostics channels, by name), health and the operations HTTP port. May
 * import events/, overlay/, node/ (types), http/, base/.
 */
export { NetworkView, type NetworkEvent } from "./network-view.js";
export { renderNetwork } from "./render.js";
export { ThorMetrics, sipMethodLabel, type ThorMetricsOptions, type Samples } from "./metrics.js";
export { Health, type CheckResult, type ReadinessCheck, type HealthReport, type ReadinessReport } from "./health.js";
export { OpsServer, type OpsServerOptions } from "./ops-server.js";
export {
  OK,
  WARNING,
  CRITICAL,
  UNKNOWN,
  STATUS_NAMES,
  parseRange,
  alerts,
  statusOf,
  worst,
  formatPerfData,
  formatStatusLine,
  ThresholdRangeError,
  type PluginStatus,
  type Range,
  type PerfDatum,
} from "./nagios.js";
export { dashboardState, memberFigures, DEFAULT_DASHBOARD_EVENTS, DEFAULT_DASHBOARD_OTHERS, type DashboardState, type DashboardMember, type MemberFigures, type RingArc } from "./dashboard-model.js";
export { OperatorAuth, bearer, cookieValue, DASHBOARD_COOKIE, MIN_DASHBOARD_TOKEN_LENGTH, type AuthDecision, type CertificateVerdict } from "./dashboard-auth.js";
export {
  DashboardServer,
  DashboardSettingsError,
  findDashboardAssets,
  DEFAULT_DASHBOARD_LISTEN,
  DEFAULT_DASHBOARD_MAX_CLIENTS,
  DEFAULT_DASHBOARD_PUSH_INTERVAL_MS,
  DEFAULT_DASHBOARD_HEARTBEAT_MS,
  DEFAULT_DASHBOARD_MAX_BUFFERED_BYTES,
  type DashboardServerOptions,
} from "./dashboard-server.js";
