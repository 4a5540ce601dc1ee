#!/usr/bin/env bash
# Model build time (core's builder) for mixed HTTP + TLS passthrough swarms of 1 000 / 5 000 / 10 000
# services spread over many owners. No Docker, no nginx; compiled JS (packages/model/dist).
# Usage: ./scripts/bench/build.sh [SIZES]     e.g. ./scripts/bench/build.sh 1000,10000
set -euo pipefail
# shellcheck source=SCRIPTDIR/../lib/engine.sh
source "$(dirname "$(readlink -f "$0")")/../lib/engine.sh"
workspace_build model
exec node "$REPO_ROOT/packages/e2e/bench/build.mjs" "$@"
