#!/usr/bin/env bash
# Builds the native addons with the node-gyp that npm bundles: the media
# relay's forwarder (native/media-forwarder) and the shared-port sockets of
# SIP workers (native/reuseport, docs/sip-cluster.md "Every core of a host"). Run by `npm run build`; needs a C compiler, make
# and python3 (scripts/ensure-system-deps.sh installs them). Incremental:
# configured once, then make rebuilds only what changed.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
# Without a compiler the relay still works on its JavaScript data path (it logs why at start).
for tool in cc make python3; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    echo "warning: $tool not found: the native addons are not built; the media relay uses its JavaScript data path and SIP workers fall back to one (scripts/ensure-system-deps.sh installs the tools)" >&2
    exit 0
  fi
done
gyp=(node-gyp)
command -v node-gyp >/dev/null 2>&1 || gyp=(node "${npm_config_node_gyp:-$(dirname "$(command -v npm)")/../lib/node_modules/npm/node_modules/node-gyp/bin/node-gyp.js}")
for addon in media-forwarder reuseport; do
  cd "$root/native/$addon"
  log=build.log
  if [ ! -f build/Makefile ] || [ binding.gyp -nt build/Makefile ]; then
    "${gyp[@]}" configure >"$log" 2>&1 || { cat "$log" >&2; echo "native $addon: node-gyp configure failed (see above)" >&2; exit 1; }
  fi
  "${gyp[@]}" build >"$log" 2>&1 || { cat "$log" >&2; echo "native $addon: build failed (see above)" >&2; exit 1; }
  rm -f "$log"
done
