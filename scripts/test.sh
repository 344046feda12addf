#!/usr/bin/env bash
# `npm test`: build (unless dist/ is already built from these sources), take a
# free run slot, run every test file in it. Several runs may go at once, from
# one worktree or several: each holds its own slot (test/support/slot.ts gives
# each slot its own loopback /16, namespaces and ports), so they never share an
# address.
#
#   scripts/test.sh [test files...]   run these compiled files (default: all of dist/test)
#   scripts/test.sh --slot-env        print `THOR_TEST_SLOT=N` for a free slot and exit
#                                     (the slot is not held: for a quick hand run)
#
# Slots: /tmp/thor-test-slot-N (N = 0..7), each held with flock(1) on an open
# file descriptor for the life of the run. The descriptor is inherited by the
# test runner and every process it starts, so a slot stays taken while
# anything of the run is alive, and is free again the moment all of it has
# exited (also after a crash or kill -9: the kernel drops the lock).
#
# Build: `dist/.sources` records a hash of the sources dist/ was built from.
# A run holds dist-build.lock (in the worktree) shared while it uses dist/, so
# runs of the same sources go side by side; a run whose sources differ takes
# it exclusive to rebuild, so it waits for the runs using dist/ to end.
set -euo pipefail
# All in one function, read whole before it runs: editing this file during a run cannot change the run.
main() {
cd "$(dirname "$0")/.."

MAX_SLOTS=8
SLOT_DIR=${THOR_TEST_SLOT_DIR:-/tmp}

slot=
take_slot() {
  # Locks the first free slot file on fd 9 (in this shell: no subshell) and sets $slot.
  local n
  for ((n = 0; n < MAX_SLOTS; n++)); do
    exec 9>>"$SLOT_DIR/thor-test-slot-$n"
    if flock -n 9; then
      slot=$n
      return 0
    fi
    exec 9>&-
  done
  return 1
}

if [ "${1:-}" = "--slot-env" ]; then
  take_slot || { echo "no free test slot (all $MAX_SLOTS taken)" >&2; exit 1; }
  echo "THOR_TEST_SLOT=$slot"
  exit 0
fi

sources_hash() {
  { find src test bench native bin scripts -type f \( -name '*.ts' -o -name '*.js' -o -name '*.c' -o -name '*.gyp' -o -name '*.sh' -o -name '*.xml' \) -print0 | sort -z | xargs -0 sha256sum
    sha256sum tsconfig.json package.json package-lock.json; } | sha256sum | cut -d' ' -f1
}

# System programs (installs are serialised inside the script).
bash scripts/ensure-system-deps.sh

exec 8>>dist-build.lock
want=$(sources_hash)
deadline=$(($(date +%s) + 1800))
while :; do
  # Shared: runs of the same sources share dist/ and do not wait for each other.
  flock -s -w 1800 8 || { echo "test.sh: dist-build.lock held exclusively for 30 minutes; giving up" >&2; exit 1; }
  if [ "$(cat dist/.sources 2>/dev/null)" = "$want" ]; then
    echo "test.sh: dist/ is built from these sources; not rebuilding" >&2
    break
  fi
  # Rebuild alone, once no run uses dist/. While another run builds or uses it, look again
  # every few seconds: it may be building these very sources.
  flock -u 8
  if flock -x -w 5 8; then
    if [ "$(cat dist/.sources 2>/dev/null)" != "$want" ]; then
      npm run build
      echo "$want" >dist/.sources
    fi
    # Keep dist/ as it is while this run uses it (other runs of these sources may share it).
    flock -s 8
    break
  fi
  if [ "$(date +%s)" -ge "$deadline" ]; then
    echo "test.sh: dist/ (other sources) in use by another run for 30 minutes; giving up" >&2
    exit 1
  fi
done

if ! take_slot; then
  echo "test.sh: no free test slot (all $MAX_SLOTS of $SLOT_DIR/thor-test-slot-N are held)" >&2
  exit 1
fi
export THOR_TEST_SLOT=$slot

if [ $# -gt 0 ]; then
  files=("$@")
else
  mapfile -t files < <(find dist/test -name '*.test.js' | sort)
fi
echo "test.sh: slot $slot (loopback 127.$((100 + slot)).0.0/16), ${#files[@]} test files" >&2
start=$(date +%s)
# fd 9 (the slot) goes to the runner and everything it starts; fd 8 (the
# build lock) stays with this script only, so a process leaked by a test cannot
# block later builds.
set +e
node --test --test-concurrency=2 --test-timeout=300000 "${files[@]}" 8>&-
rc=$?
set -e
echo "test.sh: slot $slot, exit $rc, $(($(date +%s) - start)) s" >&2
exit $rc
}
main "$@"
exit $?
