#!/usr/bin/env bash
# Data-path figures as users get them (needs the stack up, ./scripts/up.sh; run under the swarm lock):
# wrk in a network namespace of its own, over a veth pair, reaching this node's veth address, so requests
# go through iptables DNAT to host-mode published ports: the demo task directly, the deployed Signalbox
# proxy (its own config.toml, access log on), HAProxy and Caddy (Debian) in front of the same task; then
# the access-log options and single hop (ProxyEdge = false), each deployed through config.toml. See packages/e2e/bench/clientpath.mjs.
#   ./scripts/bench/datapath.sh [DURATION_S=8] [CONNECTIONS=32] [ROUNDS=2]     (SBX_PERF_LOG_VARIANTS=0: no access-log part nor single hop; =syslog,volume: only those options; =single: only single hop)
# The earlier loopback comparison (nginx with a rendered config, HAProxy and Caddy on 127.0.0.1, then
# the proxy through docker-proxy):
#   ./scripts/bench/datapath.sh --loopback [DURATION_S=10] [CONNECTIONS=32] [ROUNDS=2]
set -euo pipefail
# shellcheck source=SCRIPTDIR/../lib/engine.sh
source "$(dirname "$(readlink -f "$0")")/../lib/engine.sh"
want=()
have wrk || want+=(wrk)
have haproxy || want+=(haproxy)
have caddy || want+=(caddy)
have nginx || want+=(nginx)
have curl || want+=(curl)
if [[ ${#want[@]} -gt 0 ]]; then apt_install "${want[@]}"; fi
if [[ "${1:-}" == "--loopback" ]]; then
  shift
  workspace_build model extension demo-app
  exec node "$REPO_ROOT/packages/e2e/bench/datapath.mjs" "${1:-10}" "${2:-32}" "${3:-2}"
fi
[[ $EUID -eq 0 ]] || die "the client namespace and veth pair need root"
exec node "$REPO_ROOT/packages/e2e/bench/clientpath.mjs" "${1:-8}" "${2:-32}" "${3:-2}"
