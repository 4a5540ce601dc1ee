#!/usr/bin/env bash
# Burst figures: docker stack deploy of a generated stack of N labelled services on the external
# network sbx-perf-net (joined by the proxy beforehand); prints the proxy's reloads during the burst
# (target ≤ 5 for 50), the time until the last route answers, and the same for docker stack rm.
# Run ./scripts/up.sh first. Usage: ./scripts/bench/burst.sh [SERVICES=50]
set -euo pipefail
# shellcheck source=SCRIPTDIR/../lib/common.sh
source "$(dirname "$(readlink -f "$0")")/../lib/common.sh"
exec node "$REPO_ROOT/packages/e2e/bench/burst.mjs" "${1:-50}"
