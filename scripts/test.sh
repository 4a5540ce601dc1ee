#!/usr/bin/env bash
# All tests: lint (eslint + typecheck of sources and tests + prettier --check), unit, integration (real nginx),
# e2e (real swarm; started here if needed), faults (kills core, extension and proxy, drops core's
# event stream, restarts dockerd; a few minutes), multinode (a swarm of namespaced engines made by
# scripts/multinode.sh, removed afterwards).
# Usage: ./scripts/test.sh [lint|unit|integration|e2e|faults|multinode]...   (default: all)
#   SIGNALBOX_MULTINODE_NODES=5   the full multinode run (3 managers + 2 workers: manager failover
#                                 too); default 3 (1 manager + 2 workers: failover is skipped)
#   SIGNALBOX_MULTINODE_KEEP=1    leave the multinode swarm up afterwards
set -euo pipefail
source "$(dirname "$(readlink -f "$0")")/lib/stack.sh"

need_root
suites=("$@")
[[ ${#suites[@]} -gt 0 ]] || suites=(lint unit integration e2e faults multinode)
wants() { [[ " ${suites[*]} " == *" $1 "* ]]; }
start=$(now_s)

ensure_host_tools
ensure_node_toolchain   # includes the TypeScript build (strict typecheck of every package)
cd "$REPO_ROOT"
results="$(mktemp -d)"
# Each suite writes its counts; the closing line adds them up for CI.
jest() {
  local name="$1"; shift
  node --experimental-vm-modules node_modules/jest/bin/jest.js --json --outputFile="$results/$name.json" "$@"
}
# A test file that fails to load (syntax/import error, throw at top level) has no failed test but is a
# failure: it counts as one. A step that failed without any jest failure (lint, typecheck, a crash)
# counts as one too, so the closing line never says "0 failed" for a failed run.
summary() {
  local status=$?
  node -e '
    const fs = require("fs"); let p = 0, f = 0;
    for (const file of fs.readdirSync(process.argv[1])) {
      const r = JSON.parse(fs.readFileSync(process.argv[1] + "/" + file, "utf8"));
      p += r.numPassedTests; f += r.numFailedTests + r.numRuntimeErrorTestSuites;
    }
    if (process.argv[2] !== "0" && f === 0) f = 1;
    console.log(`${p} passed, ${f} failed`);' "$results" "$status"
}
trap summary EXIT

if wants lint; then
  log "lint (eslint, type-aware), typecheck (sources and tests) and formatting (prettier --check)"
  pnpm -s typecheck
  pnpm -s lint
  pnpm -s format:check
fi

if wants unit; then
  log "unit tests"
  jest unit --selectProjects unit --ci
fi
if wants integration; then
  log "integration tests (real nginx)"
  jest integration --selectProjects integration --ci --runInBand
fi
if wants e2e || wants faults; then
  ensure_engine
  ensure_swarm
  "$REPO_ROOT/scripts/build-images.sh"
  # e2e files deploy and compare against this config (packages/e2e/test/helpers/swarm.ts).
  SIGNALBOX_E2E_CONFIG="$(e2e_config)"
  export SIGNALBOX_E2E_CONFIG
  deploy_stack "$SIGNALBOX_E2E_CONFIG"
  wait_stack_ready 240
  restart_stale_services 240
fi
if wants e2e; then
  log "e2e tests (real swarm)"
  jest e2e --selectProjects e2e --ci --runInBand
fi
if wants faults; then
  # After e2e, which redeploys config.toml variants: start from the stack as deployed.
  deploy_stack
  wait_stack_ready 240
  log "fault tests (real swarm: kills components, restarts dockerd)"
  jest faults --selectProjects faults --ci --runInBand
fi
if wants multinode; then
  mn_start=$(now_s)
  # Reuses the images the e2e step just built (no rebuild) when it ran.
  if wants e2e; then export SIGNALBOX_MULTINODE_BUILD=0; rm -f "$REPO_ROOT/.build/multinode/images.tar"; fi
  # summary reads the exit status: keep the run's, not down's.
  [[ "${SIGNALBOX_MULTINODE_KEEP:-0}" == 1 ]] || trap 'st=$?; "$REPO_ROOT/scripts/multinode.sh" down || true; (exit $st); summary' EXIT
  "$REPO_ROOT/scripts/multinode.sh" up "${SIGNALBOX_MULTINODE_NODES:-3}"
  log "multinode tests (namespaced multi-node swarm)"
  ( eval "$("$REPO_ROOT/scripts/multinode.sh" env)" && jest multinode --selectProjects multinode --ci --runInBand )
  log "multinode tests passed in $(elapsed "$mn_start")s (swarm setup included)"
fi
log "all requested suites passed in $(elapsed "$start")s"
