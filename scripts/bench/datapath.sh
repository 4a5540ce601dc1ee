#!/usr/bin/env bash
# Data-path figures, all in one run: requests/s and p50/p99 latency (wrk, keepalive, fixed duration and
# connections) for the demo backend directly and through nginx with a Signalbox-rendered config, HAProxy
# and Caddy (Debian packages, installed if missing) on loopback ports 39481-39483; then, when the stack
# is up, through the real proxy (127.0.0.1:8080) to a demo task on the sbx-perf-net overlay.
# Usage: ./scripts/bench/datapath.sh [DURATION_S=10] [CONNECTIONS=32] [ROUNDS=2]   (SBX_PERF_SWARM=0: no swarm part)
set -euo pipefail
# shellcheck source=SCRIPTDIR/../lib/engine.sh
source "$(dirname "$(readlink -f "$0")")/../lib/engine.sh"
want=()
have wrk || want+=(wrk)
have haproxy || want+=(haproxy)
have caddy || want+=(caddy)
have nginx || want+=(nginx)
if [[ ${#want[@]} -gt 0 ]]; then apt_install "${want[@]}"; fi
workspace_build model extension demo-app
exec node "$REPO_ROOT/packages/e2e/bench/datapath.mjs" "${1:-10}" "${2:-32}" "${3:-2}"
