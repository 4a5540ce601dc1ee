#!/usr/bin/env bash
# Scale figures for synthetic swarms of 1 000 / 5 000 / 10 000 labelled services: model build, render
# (cold, full, after a one-service change), config size, sandboxed `nginx -t`, a real nginx started on
# 127.0.0.1:39480/39443 and reloaded, memory. No Docker needed; compiled JS (packages/*/dist).
# Usage: ./scripts/bench/scale.sh [SIZES] [--plot=FILE.png]   e.g. ./scripts/bench/scale.sh 1000,10000
#        SCALE_RELOAD=0 skips the real nginx; SCALE_HTTP_PORT / SCALE_HTTPS_PORT move its ports.
set -euo pipefail
# shellcheck source=SCRIPTDIR/../lib/engine.sh
source "$(dirname "$(readlink -f "$0")")/../lib/engine.sh"
have nginx || die "nginx is needed (./scripts/up.sh installs it)"
workspace_build model extension
exec node "$REPO_ROOT/packages/e2e/bench/scale.mjs" "$@"
