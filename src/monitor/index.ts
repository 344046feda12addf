/**
 * monitor/ — floor 4. Views of the network built from events: the state
 * behind `thor monitor` and its terminal rendering; metrics (from the
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
