#!/usr/bin/env bash
# Installs the system programs the test suite and benchmarks drive as real
# peers (Debian packages). Run by `npm test` (pretest) and `npm run bench`
# (prebench); does nothing when they are already there.
#   sipp  (sip-tester)  SIP load generator and scripted UA, for the SIP tests
#   openssl             the PKI tests verify our files with it
#   dnsutils, knot-dnsutils  dig and kdig, for the thor dns tests
#   knot                the external primary of the RFC 2136 push test (and the DNS benchmark's baseline)
#   baresip             a real SIP user agent (RFC 3263 client), for the SIP and thor dns end-to-end tests
#   prometheus          the real Prometheus that scrapes the demo's /metrics in the operations test
#   curl                a plain HTTP client with digest, for the XCAP tests
#   chromium            a real headless browser (driven by playwright-core) for the web dashboard test
#   g++, make, python3  node-gyp builds the media relay's native forwarder (scripts/build-native.sh)
#   rtpengine-daemon    the rtpengine media relay (userspace mode): the second media engine's test and the media benchmark's baseline
#   iproute2            `ip netns`, veth pairs and bridges for the partition tests (test/resilience/partition-*.test.ts, root only)
# Benchmarks also want: kamailio (the baseline SIP proxy), kamailio-presence-modules (the presence baseline, on db_text).
#   dnsperf             the DNS load generator
set -euo pipefail
want=(g++ make python3 sip-tester openssl dnsutils knot-dnsutils baresip knot prometheus curl rtpengine-daemon chromium iproute2)
if [ "${1:-}" = "--bench" ]; then want+=(kamailio kamailio-presence-modules dnsperf); fi
find_missing() {
  missing=()
  for pkg in "${want[@]}"; do
    dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
  done
}
find_missing
[ ${#missing[@]} -eq 0 ] && exit 0
# Two test runs may start at once: one installs, the other waits and then finds everything there.
exec 7>>/tmp/thor-system-deps.lock
flock -w 1200 7 || { echo "ensure-system-deps: another install held /tmp/thor-system-deps.lock for 20 minutes" >&2; exit 1; }
find_missing
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null; then
  echo "missing system packages: ${missing[*]} (install them with apt-get as root)" >&2
  exit 1
fi
echo "installing ${missing[*]} ..." >&2
export DEBIAN_FRONTEND=noninteractive
# Other installs may run at the same time: wait for the dpkg lock instead of failing.
apt-get -o DPkg::Lock::Timeout=600 update -qq >/dev/null
apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# The kamailio package starts a service on 5060; the benchmark runs its own instance.
if [[ " ${missing[*]} " == *" kamailio "* || " ${missing[*]} " == *" kamailio-presence-modules "* ]]; then
  # Through the service manager, else by the PID the package's service wrote (never by name: another
  # kamailio on this machine, a benchmark's own, is not ours to stop).
  if ! (systemctl stop kamailio || service kamailio stop) >/dev/null 2>&1; then
    for pidfile in /run/kamailio/kamailio.pid /var/run/kamailio/kamailio.pid; do
      [ -s "$pidfile" ] && kill "$(cat "$pidfile")" 2>/dev/null || true
    done
  fi
fi
# The rtpengine-daemon package starts its service; tests and benchmarks run their own instances.
if [[ " ${missing[*]} " == *" rtpengine-daemon "* ]]; then
  (systemctl stop rtpengine-daemon 2>/dev/null || service rtpengine-daemon stop 2>/dev/null || true) >/dev/null 2>&1
fi
# The knot package may start its service on port 53; the benchmark runs its own instance.
if [[ " ${missing[*]} " == *" knot "* ]]; then
  (systemctl stop knot 2>/dev/null || service knot stop 2>/dev/null || true) >/dev/null 2>&1
fi
# The prometheus package starts its service on :9090; the tests run their own instance.
if [[ " ${missing[*]} " == *" prometheus "* ]]; then
  (systemctl stop prometheus 2>/dev/null || service prometheus stop 2>/dev/null || true) >/dev/null 2>&1
fi
