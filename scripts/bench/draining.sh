#!/usr/bin/env bash
# nginx memory under frequent reloads with long-lived connections, without and with the agent's cap
# on draining generations (ProxyMaxDrainingGenerations). No Docker: nginx on 127.0.0.1:39580.
# Usage: ./scripts/bench/draining.sh [SERVICES] [RELOADS] [CAPS]   e.g. ./scripts/bench/draining.sh 5000 8 0,2
set -euo pipefail
# shellcheck source=SCRIPTDIR/../lib/engine.sh
source "$(dirname "$(readlink -f "$0")")/../lib/engine.sh"
have nginx || die "nginx is needed (./scripts/up.sh installs it)"
workspace_build model extension proxy-agent
exec node "$REPO_ROOT/packages/e2e/bench/draining.mjs" "$@"
