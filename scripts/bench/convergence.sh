#!/usr/bin/env bash
# Convergence figures (min/median/p95/max) over N trials (default 20) against the running stack.
# Run ./scripts/up.sh first. Usage: ./scripts/bench/convergence.sh [TRIALS]
set -euo pipefail
# shellcheck source=SCRIPTDIR/../lib/common.sh
source "$(dirname "$(readlink -f "$0")")/../lib/common.sh"
exec node "$REPO_ROOT/packages/e2e/bench/convergence.mjs" "${1:-20}"
