#!/usr/bin/env bash
# Hitless figures: wrk drives a routed service through the running proxy (127.0.0.1:8080) for a fixed
# time while CHANGES routine changes (create/scale/relabel/remove of other services on the already
# joined sbx-perf-net network) happen; prints non-2xx, socket errors, reloads, worker draining, proxy
# memory and whether a WebSocket opened before the changes still echoes.
# Run ./scripts/up.sh first. Usage: ./scripts/bench/hitless.sh [CHANGES=200] [DURATION_S=120]
# SBX_PERF_HTTPS=1: over HTTPS (TLS ended by the routing task's TLS front), to a target serving localhost.
# SBX_PERF_KEEP=1 keeps the target service; ./scripts/bench/cleanup.sh removes every sbx-perf-* object.
set -euo pipefail
# shellcheck source=SCRIPTDIR/../lib/engine.sh
source "$(dirname "$(readlink -f "$0")")/../lib/engine.sh"
have wrk || apt_install wrk
exec node "$REPO_ROOT/packages/e2e/bench/hitless.mjs" "${1:-200}" "${2:-120}"
