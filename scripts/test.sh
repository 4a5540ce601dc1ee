#!/usr/bin/env bash
# All tests: typecheck, unit, integration (real nginx), e2e (real swarm; started here if needed).
# Usage: ./scripts/test.sh [unit|integration|e2e]...   (default: all)
set -euo pipefail
source "$(dirname "$(readlink -f "$0")")/lib/stack.sh"

need_root
suites=("$@")
[[ ${#suites[@]} -gt 0 ]] || suites=(unit integration e2e)
wants() { [[ " ${suites[*]} " == *" $1 "* ]]; }
start=$(now_s)

ensure_host_tools
ensure_node_toolchain   # includes the TypeScript build (strict typecheck of every package)
cd "$REPO_ROOT"
jest() { node --experimental-vm-modules node_modules/jest/bin/jest.js "$@"; }

if wants unit; then
  log "unit tests"
  jest --selectProjects unit --ci
fi
if wants integration; then
  log "integration tests (real nginx)"
  jest --selectProjects integration --ci --runInBand
fi
if wants e2e; then
  ensure_engine
  ensure_swarm
  "$REPO_ROOT/scripts/build-images.sh"
  deploy_stack
  wait_stack_ready 240
  log "e2e tests (real swarm)"
  jest --selectProjects e2e --ci --runInBand
fi
log "all requested suites passed in $(elapsed "$start")s"
