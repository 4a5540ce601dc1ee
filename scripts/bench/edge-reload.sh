#!/usr/bin/env bash
# Reload errors with and without the edge, on loopback (no swarm, no lock needed): wrk keep-alive through
# single-hop nginx and through the edge (HTTP at L7, HTTPS at L4) while the routing nginx reloads in a
# loop; prints requests, reloads, non-2xx and socket errors by kind. See packages/e2e/bench/edge-reload.mjs.
#   ./scripts/bench/edge-reload.sh [DURATION_S=30] [CONNECTIONS=8] [RELOAD_MS=300]
set -euo pipefail
# shellcheck source=SCRIPTDIR/../lib/engine.sh
source "$(dirname "$(readlink -f "$0")")/../lib/engine.sh"
want=()
have wrk || want+=(wrk)
have nginx || want+=(nginx)
have openssl || want+=(openssl)
if [[ ${#want[@]} -gt 0 ]]; then apt_install "${want[@]}"; fi
workspace_build model extension proxy-agent demo-app
exec node "$REPO_ROOT/packages/e2e/bench/edge-reload.mjs" "${1:-30}" "${2:-8}" "${3:-300}"
