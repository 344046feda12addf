import { test } from "node:test";
import assert from "node:assert/strict";
import { CRITICAL, OK, WARNING, alerts, formatStatusLine, parseRange, statusOf, ThresholdRangeError } from "../../src/monitor/index.js";

test("threshold ranges follow the monitoring-plugins guidelines", () => {
  const cases: Array<[string, number, boolean]> = [
    ["10", -1, true], ["10", 0, false], ["10", 10, false], ["10", 11, true],
    ["10:", 9, true], ["10:", 10, false], ["10:", 1e9, false],
    ["~:10", -1e9, false], ["~:10", 11, true],
    ["10:20", 9, true], ["10:20", 15, false], ["10:20", 21, true],
    ["@10:20", 15, true], ["@10:20", 9, false],
  ];
  for (const [r, v, expected] of cases) assert.equal(alerts(parseRange(r), v), expected, `${r} with ${v}`);
  for (const bad of ["", "@", "x", "5:1", "1:2:3", "10::"]) assert.throws(() => parseRange(bad), ThresholdRangeError, bad);
});

test("critical wins over warning; the status line carries perfdata", () => {
  const w = parseRange("3:");
  const c = parseRange("2:");
  assert.equal(statusOf(3, w, c), OK);
  assert.equal(statusOf(2, w, c), WARNING);
  assert.equal(statusOf(1, w, c), CRITICAL);
  assert.equal(
    formatStatusLine("THOR NETWORK", WARNING, "a | b", [{ label: "sip proxy", value: 2, warning: w, critical: c, min: 0 }, { label: "t", value: 0.0125, uom: "s" }]),
    "THOR NETWORK WARNING - a / b | 'sip proxy'=2;3:;2:;0; t=0.0125s;;;;",
  );
});
